"""The push outbox: one row per (event, binding), planned in the event's
transaction (``plan``), sent after commit by any process's ``Worker``.

::

    write transaction: events row + pushes rows (state pending)
    worker (any process):
      claim   UPDATE … SET claimed_by, lease_until WHERE pending, due, unclaimed
              (or lease lapsed) … RETURNING: a compare-and-set per row, so each
              push is taken by one process
      send    (no transaction open)
      finish  one transaction per batch of outcomes: sent | retry at next_at |
              failed | skipped; a dead device's binding deleted with it

Unlike webhook lanes (one event in flight per channel and target, in order),
pushes to different devices have no order to keep, so rows are claimed one by
one and sent many at a time (docs/push.md, "Delivery"). The retry schedule is
the webhooks' (``webhooks.sender.backoff``).
"""

from collections.abc import Sequence
from typing import Any

from parley import timefmt
from parley.store import Row, Tx, repo

PENDING, SENT, FAILED, SKIPPED, RECORDED = "pending", "sent", "failed", "skipped", "recorded"
STATES = (PENDING, SENT, FAILED, SKIPPED, RECORDED)


async def enqueue(tx: Tx, rows: Sequence[Row]) -> None:
    await repo.insert_many(tx, "pushes", rows)


_CLAIM = (
    "UPDATE pushes SET claimed_by = :me, lease_until = :until"
    " WHERE seq IN (SELECT seq FROM pushes WHERE state = :pending AND next_at <= :now"
    " AND (lease_until IS NULL OR lease_until < :now) ORDER BY next_at, seq LIMIT :limit)"
    # repeated outside the sub-select: PostgreSQL re-checks these (not the
    # sub-select) on a row another process claimed meanwhile
    " AND state = :pending AND (lease_until IS NULL OR lease_until < :now)"
    " RETURNING seq, event_seq, kind, account_sid, service_sid, channel_sid, identity,"
    " binding_sid, binding_type, credential_sid, address, payload, log_enabled, attempts"
)


async def claim(tx: Tx, worker: str, now: int, lease: int, limit: int) -> list[Row]:
    """Up to ``limit`` due pushes, now ours until ``now + lease``."""
    rows = await tx.all(
        _CLAIM,
        {"me": worker, "until": now + lease, "pending": PENDING, "now": now, "limit": limit},
    )
    return sorted(rows, key=lambda r: int(r["seq"]))


async def finish(tx: Tx, worker: str, outcomes: Sequence[Row]) -> None:
    """Record attempts: each ``{seq, state, next_at, status, error}``; only
    pushes still ours are changed (a lapsed lease taken over is not)."""
    await tx.many(
        "UPDATE pushes SET state = :state, next_at = :next_at, last_status = :status,"
        " last_error = :error, attempts = attempts + 1, claimed_by = NULL, lease_until = NULL,"
        " date_updated = :now WHERE seq = :seq AND claimed_by = :me",
        [{**o, "me": worker, "now": timefmt.now()} for o in outcomes],
    )


async def release_all(tx: Tx, worker: str) -> None:
    await tx.run(
        "UPDATE pushes SET claimed_by = NULL, lease_until = NULL WHERE claimed_by = :me",
        {"me": worker},
    )


async def listing(
    tx: Tx,
    account_sid: str | None,
    *,
    state: str | None = None,
    identity: str | None = None,
    kind: str | None = None,
    limit: int = 1000,
    newest_first: bool = False,
) -> list[Row]:
    where = []
    params: dict[str, Any] = {"limit": limit}
    for column, value in (
        ("account_sid", account_sid),
        ("state", state),
        ("identity", identity),
        ("kind", kind),
    ):
        if value is not None:
            where.append(f"{column} = :{column}")
            params[column] = value
    sql = "SELECT * FROM pushes" + (f" WHERE {' AND '.join(where)}" if where else "")
    sql += f" ORDER BY seq {'DESC' if newest_first else 'ASC'} LIMIT :limit"
    return await tx.all(sql, params)


async def forget(tx: Tx, account_sid: str | None) -> None:
    """What a state reset does: the account's pushes (or all) are gone, sent or not."""
    await repo.delete(tx, "pushes", {"account_sid": account_sid} if account_sid else {})


async def prune(tx: Tx, before: int, limit: int = 1000) -> int:
    """Forget up to ``limit`` finished pushes last touched before ``before``."""
    rows = await tx.all(
        "SELECT seq FROM pushes WHERE state <> :pending AND date_updated < :before"
        " ORDER BY seq LIMIT :limit",
        {"pending": PENDING, "before": before, "limit": limit},
    )
    seqs = [r["seq"] for r in rows]
    if seqs:
        marks = ", ".join(f":s{i}" for i in range(len(seqs)))
        await tx.run(
            f"DELETE FROM pushes WHERE seq IN ({marks})", {f"s{i}": s for i, s in enumerate(seqs)}
        )
    return len(seqs)
