"""The push outbox: one row per (event, binding), planned in the event's
transaction (``plan``), sent after commit by any process's ``Worker``.

::

    write transaction: events row + pushes rows (state pending)
    worker (any process):
      claim   a share of each account's due pushes, then UPDATE … SET claimed_by,
              lease_until WHERE still pending and unclaimed (or lease lapsed) …
              RETURNING: a compare-and-set per row, so each push is taken by
              one process
      send    (no transaction open)
      finish  one transaction per batch of outcomes: sent | retry at next_at |
              failed | skipped; a dead device's binding deleted with it

Unlike webhook lanes (one event in flight per channel and target, in order),
pushes to different devices have no order to keep, so rows are claimed one by
one and sent many at a time (docs/push.md, "Delivery"). The retry schedule is
the webhooks' (``webhooks.sender.backoff``).
"""

from collections.abc import Sequence
from typing import Any, TypedDict, cast

from parley import timefmt
from parley.sids import AccountSid, BindingSid, ChannelSid, CredentialSid, ServiceSid
from parley.store import Row, Tx, repo

PENDING, SENT, FAILED, SKIPPED, RECORDED = "pending", "sent", "failed", "skipped", "recorded"
STATES = (PENDING, SENT, FAILED, SKIPPED, RECORDED)


class Push(TypedDict):
    """A row of ``pushes``, which this module owns: one event's notification
    to one binding, and where its delivery stands."""

    seq: int
    event_seq: int
    kind: str
    account_sid: AccountSid
    service_sid: ServiceSid
    channel_sid: ChannelSid | None
    identity: str
    binding_sid: BindingSid
    binding_type: str
    credential_sid: CredentialSid | None
    address: str
    payload: str  # JSON
    log_enabled: int
    state: str  # one of STATES
    attempts: int
    next_at: int
    claimed_by: str | None
    lease_until: int | None
    last_status: int | None
    last_error: str | None
    date_created: int
    date_updated: int | None


async def enqueue(tx: Tx, rows: Sequence[Row]) -> None:
    await repo.insert_many(tx, "pushes", rows)


# the accounts with due pushes after ``:after``, one index seek each (a loose
# index scan both engines run: neither skips through an index by itself)
_ACCOUNTS = (
    "WITH RECURSIVE a(acc) AS ("
    " SELECT MIN(account_sid) FROM pushes"
    " WHERE state = :pending AND account_sid > :after AND next_at <= :now"
    " UNION ALL SELECT (SELECT MIN(account_sid) FROM pushes"
    " WHERE state = :pending AND account_sid > a.acc AND next_at <= :now)"
    " FROM a WHERE a.acc IS NOT NULL"
    ") SELECT acc FROM a WHERE acc IS NOT NULL LIMIT :limit"
)

_DUE = (
    "SELECT seq FROM pushes WHERE state = :pending AND account_sid = :account"
    " AND next_at <= :now AND (lease_until IS NULL OR lease_until < :now)"
    " ORDER BY next_at, seq LIMIT :limit"
)

_CLAIM = (
    "UPDATE pushes SET claimed_by = :me, lease_until = :until WHERE seq IN ({marks})"
    # re-checked on each row: PostgreSQL re-evaluates these on a row another
    # process claimed meanwhile, so it is not taken twice
    " AND state = :pending AND (lease_until IS NULL OR lease_until < :now)"
    " RETURNING seq, event_seq, kind, account_sid, service_sid, channel_sid, identity,"
    " binding_sid, binding_type, credential_sid, address, payload, log_enabled, attempts"
)

# accounts served per claim: more wait for the next one
ACCOUNTS_PER_CLAIM = 64


async def claim(
    tx: Tx, worker: str, now: int, lease: int, limit: int, after: str = ""
) -> tuple[list[Row], str]:
    """Up to ``limit`` due pushes, now ours until ``now + lease``: an equal
    share for each account with some, accounts taken in turns from the one
    after ``after`` (docs/push.md, "Delivery"). Returns them and the last
    account served (the next claim's ``after``)."""
    base = {"pending": PENDING, "now": now}
    scan = {**base, "limit": ACCOUNTS_PER_CLAIM}
    accounts = [r["acc"] for r in await tx.all(_ACCOUNTS, {**scan, "after": after})]
    if len(accounts) < ACCOUNTS_PER_CLAIM and after:
        # wrap around: the accounts before the cursor get their turn too
        more = await tx.all(_ACCOUNTS, {**scan, "after": ""})
        accounts += [r["acc"] for r in more if r["acc"] not in accounts]
        accounts = accounts[:ACCOUNTS_PER_CLAIM]
    share = max(1, limit // max(1, len(accounts)))
    seqs: list[int] = []
    last = after
    for account in accounts:
        found = await tx.all(_DUE, {**base, "account": account, "limit": share})
        seqs += [int(r["seq"]) for r in found]
        last = account
        if len(seqs) >= limit:
            break
    if not seqs:
        return [], ""
    seqs = seqs[:limit]
    marks, bound = repo.in_list(seqs, "s")
    rows = await tx.all(
        _CLAIM.format(marks=marks), {**base, "me": worker, "until": now + lease, **bound}
    )
    return sorted(rows, key=lambda r: int(r["seq"])), last


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
    service_sid: str | None = None,
    state: str | None = None,
    identity: str | None = None,
    kind: str | None = None,
    limit: int = 1000,
    newest_first: bool = False,
) -> list[Push]:
    """The account's pushes (of one service, if given), oldest first (or
    newest first), at most ``limit``."""
    where = []
    params: dict[str, Any] = {"limit": limit}
    for column, value in (
        ("account_sid", account_sid),
        ("service_sid", service_sid),
        ("state", state),
        ("identity", identity),
        ("kind", kind),
    ):
        if value is not None:
            where.append(f"{column} = :{column}")
            params[column] = value
    sql = "SELECT * FROM pushes" + (f" WHERE {' AND '.join(where)}" if where else "")
    sql += f" ORDER BY seq {'DESC' if newest_first else 'ASC'} LIMIT :limit"
    return cast(list[Push], await tx.all(sql, params))


async def pending(tx: Tx) -> int:
    """How many pushes wait to be sent."""
    row = await tx.one("SELECT COUNT(*) AS n FROM pushes WHERE state = 'pending'")
    return int(row["n"]) if row else 0


async def prune(tx: Tx, before: int, limit: int = 1000) -> int:
    """Forget up to ``limit`` finished pushes last touched before ``before``."""
    rows = await tx.all(
        "SELECT seq FROM pushes WHERE state <> :pending AND date_updated < :before"
        " ORDER BY seq LIMIT :limit",
        {"pending": PENDING, "before": before, "limit": limit},
    )
    seqs = [r["seq"] for r in rows]
    if seqs:
        marks, bound = repo.in_list(seqs, "s")
        await tx.run(f"DELETE FROM pushes WHERE seq IN ({marks})", bound)
    return len(seqs)
