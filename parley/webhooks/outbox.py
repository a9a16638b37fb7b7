"""Delivery bookkeeping: which events go where, and who is sending what.

::

    write transaction (API / SDK action)
      emit(event) -> events row (the outbox)
                  -> plan(): one webhook_deliveries row per target, in a lane
                     (same transaction: committed together, or not at all)
    after commit: bus -> worker.wake()
    worker (any process):
      claim lane  (CAS UPDATE on webhook_lanes: free or lease expired)
      loop: begin attempt (renew lease, attempts+1, attempt row) -> send ->
            finish attempt (status, latency; done | retry at next_at | failed)
      release lane (next_at = head's retry time, or 0 when empty)

A lane is one target (the service's post-event URL, or one channel webhook)
for one channel (user events: the service), so a receiver sees a channel's
events in commit order, one in flight at a time (docs/behaviour.md §W5). Deliveries
join a lane after taking the lane row's lock (the upsert), so their ``seq``
order is the lanes's commit order on PostgreSQL too. All SQL here is plain
SQL that runs on both engines: claiming is a compare-and-set ``UPDATE`` whose
row count says who won, instead of ``FOR UPDATE SKIP LOCKED``.
"""

import secrets
from dataclasses import dataclass
from typing import Any, TypedDict, cast

import httpx
import orjson

from parley import timefmt
from parley.domain import channel_webhooks, services
from parley.domain.catalogue import POST_EVENTS
from parley.events import Event, model
from parley.sids import AccountSid, ChannelSid, ServiceSid, WebhookSid
from parley.store import Row, Tx, repo

_POST_EVENTS = frozenset(POST_EVENTS)

PENDING, DONE, FAILED, SKIPPED = "pending", "done", "failed", "skipped"

# docs/behaviour.md §W6: a Studio webhook is handed to the stand-in named by
# PARLEY_STUDIO_URL at send time; its filters default to new messages
# (Twilio's Studio-with-Chat setup uses onMessageSent) [inferred].
STUDIO_DEFAULT_FILTERS = ("onMessageSent",)


class Delivery(TypedDict):
    """A row of ``webhook_deliveries``, which this module owns (with
    ``webhook_attempts`` and ``webhook_lanes``): one event sent to one target."""

    seq: int
    lane: str
    event_seq: int
    kind: str
    account_sid: AccountSid
    service_sid: ServiceSid | None
    channel_sid: ChannelSid | None
    webhook_sid: WebhookSid | None
    webhook_type: str | None
    url: str  # "": a studio webhook (PARLEY_STUDIO_URL at send time)
    method: str
    max_retries: int
    token: str
    state: str
    attempts: int
    next_at: int
    last_status: int | None
    last_error: str | None
    date_created: int
    date_updated: int | None


class Attempt(TypedDict):
    """A row of ``webhook_attempts``: one try at sending a delivery."""

    seq: int
    delivery_seq: int
    event_seq: int
    account_sid: AccountSid
    kind: str
    url: str
    retry_count: int
    worker: str
    status: int | None  # None: interrupted, or not answered
    error: str | None
    latency_ms: float | None
    date_created: int
    date_updated: int | None


class Lane(TypedDict):
    """A row of ``webhook_lanes``: one target's queue, in order, and the
    worker holding it."""

    lane: str
    pending: int
    next_at: int
    claimed_by: str | None
    lease_until: int | None
    account_sid: AccountSid | None
    target: str | None


@dataclass(frozen=True, slots=True)
class Target:
    lane: str
    url: str  # "" for studio: resolved by the worker from its settings
    method: str
    max_retries: int
    webhook_sid: str | None = None
    webhook_type: str | None = None


def _names(text: str | None) -> list[str]:
    if not text:
        return []
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return []
    return [str(v) for v in value] if isinstance(value, list) else []


def _method(value: str | None) -> str:
    return "GET" if (value or "").upper() == "GET" else "POST"


def trigger_matches(body: str | None, triggers: list[str]) -> bool:
    """Case-insensitive whole-word match of any keyword anywhere in the body.

    The rule is undocumented; docs/decisions.md §41 and docs/behaviour.md §W6
    ("case-insensitive whole-word match recommended") decide it. A keyword of
    several words matches that phrase; word edges are where a letter/digit
    meets anything else.
    """
    if not body:
        return False
    words = _split(body.casefold())
    for trigger in triggers:
        needle = _split(trigger.casefold())
        if needle and any(
            words[i : i + len(needle)] == needle for i in range(len(words) - len(needle) + 1)
        ):
            return True
    return False


def _split(text: str) -> list[str]:
    out: list[str] = []
    word = ""
    for ch in text:
        if ch.isalnum() or ch == "_":
            word += ch
        elif word:
            out.append(word)
            word = ""
    if word:
        out.append(word)
    return out


async def targets(tx: Tx, event: Event) -> list[Target]:
    """Where ``event`` goes: the service's post-event URL, then channel webhooks."""
    if not event.webhooks or event.kind not in _POST_EVENTS or event.service_sid is None:
        return []
    found: list[Target] = []
    place = event.channel_sid or "-"
    service = await services.post_hook(tx, event.service_sid)
    # a null URL turns the phase off, empty or null filters send nothing
    # (docs/behaviour.md §W1, docs/decisions.md §42)
    if service and service["post_webhook_url"] and event.kind in _names(service["webhook_filters"]):
        found.append(
            Target(
                lane=f"{event.service_sid}/{place}",
                url=service["post_webhook_url"],
                method=_method(service["webhook_method"]),
                max_retries=int(service["post_webhook_retry_count"] or 0),
            )
        )
    if event.channel_sid is None:
        return found
    for hook in await channel_webhooks.of_channel(tx, event.channel_sid):
        kind = hook["type"]
        if kind == "webhook":
            wanted = event.kind in _names(hook["filters"]) and bool(hook["url"])
        elif kind == "trigger":
            # docs/behaviour.md §W6: a new (text) message whose body has a keyword
            wanted = (
                event.kind == "onMessageSent"
                and bool(hook["url"])
                and trigger_matches(event.payload.get("body"), _names(hook["triggers"]))
            )
        elif kind == "studio":
            filters = _names(hook["filters"]) or list(STUDIO_DEFAULT_FILTERS)
            wanted = event.kind in filters
        else:
            wanted = False
        if wanted:
            found.append(
                Target(
                    lane=f"{hook['sid']}/{place}",
                    # webhook and trigger hooks are wanted only with a URL
                    url="" if kind == "studio" else hook["url"] or "",
                    method=_method(hook["method"]),
                    max_retries=int(hook["retry_count"] or 0),
                    webhook_sid=hook["sid"],
                    webhook_type=kind,
                )
            )
    return found


async def plan(tx: Tx, event: Event) -> None:
    """Projector: the event's deliveries, in the event's own transaction."""
    for target in await targets(tx, event):
        await enqueue(tx, event, target)


_JOIN_LANE = (
    "INSERT INTO webhook_lanes (lane, pending, next_at, account_sid, target)"
    " VALUES (:lane, 1, 0, :account, :target)"
    " ON CONFLICT (lane) DO UPDATE SET pending = webhook_lanes.pending + 1,"
    " target = :target"
)


def host_of(url: str) -> str:
    """The receiving host (``host:port``) a lane's requests go to, for the
    per-target cap; "" when the URL is resolved at send time (studio)."""
    if not url:
        return ""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError):
        return url
    return f"{parsed.host}:{parsed.port or (443 if parsed.scheme == 'https' else 80)}"


async def enqueue(tx: Tx, event: Event, target: Target) -> None:
    # lane lock first, then the delivery's seq: per-lane seq order = commit order
    await tx.run(
        _JOIN_LANE,
        {"lane": target.lane, "account": event.account_sid, "target": host_of(target.url)},
    )
    now = timefmt.now()
    await repo.insert(
        tx,
        "webhook_deliveries",
        {
            "lane": target.lane,
            "event_seq": event.seq,
            "kind": event.kind,
            "account_sid": event.account_sid,
            "service_sid": event.service_sid,
            "channel_sid": event.channel_sid,
            "webhook_sid": target.webhook_sid,
            "webhook_type": target.webhook_type,
            "url": target.url,
            "method": target.method,
            "max_retries": target.max_retries,
            "token": secrets.token_hex(16),
            "state": PENDING,
            "attempts": 0,
            "next_at": 0,
            "date_created": now,
            "date_updated": None,
        },
    )


# ---- claiming -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ready:
    lane: str
    account_sid: str  # "" for a lane of unknown account
    target: str  # host:port, "" when unknown


# Ready lanes taken in turns across accounts: every account's oldest ready
# lane, then every account's second one, ... at most ``per_account`` each, so a
# tenant with thousands of ready lanes cannot fill a claim round by itself
# (docs/security.md, "Webhook fairness").
_READY = (
    "SELECT lane, account_sid, target FROM ("
    " SELECT lane, account_sid, target, next_at, ROW_NUMBER() OVER"
    " (PARTITION BY account_sid ORDER BY next_at, lane) AS turn"
    " FROM webhook_lanes WHERE pending > 0 AND next_at <= :now"
    " AND (lease_until IS NULL OR lease_until < :now)"
    ") ready WHERE turn <= :per_account ORDER BY turn, next_at, lane LIMIT :limit"
)


async def ready_lanes(tx: Tx, now: int, limit: int, per_account: int) -> list[Ready]:
    rows = await tx.all(_READY, {"now": now, "limit": limit, "per_account": per_account})
    return [Ready(r["lane"], r["account_sid"] or "", r["target"] or "") for r in rows]


async def claim(tx: Tx, lane: str, worker: str, now: int, lease: int) -> bool:
    """Compare-and-set: the lane is ours only if it was free (or its lease lapsed)."""
    changed = await tx.run(
        "UPDATE webhook_lanes SET claimed_by = :me, lease_until = :until"
        " WHERE lane = :lane AND pending > 0 AND next_at <= :now"
        " AND (lease_until IS NULL OR lease_until < :now)",
        {"me": worker, "until": now + lease, "lane": lane, "now": now},
    )
    return changed == 1


async def renew(tx: Tx, lane: str, worker: str, until: int) -> bool:
    """Extend our lease; False when another process took the lane over."""
    changed = await tx.run(
        "UPDATE webhook_lanes SET lease_until = :until WHERE lane = :lane AND claimed_by = :me",
        {"until": until, "lane": lane, "me": worker},
    )
    return changed == 1


async def release(tx: Tx, lane: str, worker: str, next_at: int, *, empty: bool = False) -> None:
    """Hand the lane back. ``empty``: its head query found nothing pending, so
    its counter is set to 0 (it cannot have changed meanwhile: ``renew`` took
    the lane row's lock earlier in this transaction, and deliveries join a lane
    through that lock), which also heals a counter left behind by ``forget``."""
    sets = "claimed_by = NULL, lease_until = NULL, next_at = :next"
    await tx.run(
        f"UPDATE webhook_lanes SET {sets}{', pending = 0' if empty else ''}"
        " WHERE lane = :lane AND claimed_by = :me",
        {"next": next_at, "lane": lane, "me": worker},
    )


async def release_all(tx: Tx, worker: str) -> None:
    await tx.run(
        "UPDATE webhook_lanes SET claimed_by = NULL, lease_until = NULL WHERE claimed_by = :me",
        {"me": worker},
    )


# one statement for what a send needs: this module owns the deliveries it
# returns, and reads the event and the account's signing key in the same join
# (declared in store/tables.py JOINS) instead of a statement for each
_HEAD_WITH_EVENT = (
    "SELECT d.*, e.seq AS e_seq, e.payload AS e_payload, e.source AS e_source,"
    " e.identity AS e_identity, e.webhooks AS e_webhooks, e.date_created AS e_date,"
    " a.auth_token AS a_token"
    " FROM webhook_deliveries d"
    " LEFT JOIN events e ON e.seq = d.event_seq"
    " LEFT JOIN accounts a ON a.sid = d.account_sid"
    " WHERE d.lane = :lane AND d.state = :state ORDER BY d.seq LIMIT 1"
)


async def head_with_event(tx: Tx, lane: str) -> tuple[Row, Event | None, str | None] | None:
    """The lane's oldest pending delivery, its event and the account's Auth
    Token (the signing key, read at send time so a rotated token applies)."""
    row = await tx.one(_HEAD_WITH_EVENT, {"lane": lane, "state": PENDING})
    if row is None:
        return None
    found = None
    if row["e_seq"] is not None:
        # the event's own columns come prefixed from the join
        event = {k: row[k] for k in ("kind", "account_sid", "service_sid", "channel_sid")}
        event.update(
            {k: row[f"e_{k}"] for k in ("payload", "source", "webhooks", "identity", "seq")}
        )
        event["date_created"] = row["e_date"]
        found = Event.from_row(event)
    return row, found, row["a_token"]


async def event(tx: Tx, seq: int) -> Event | None:
    """One event of the outbox (for the delivery record of the control plane)."""
    return await model.by_seq(tx, seq)


# ---- attempts -------------------------------------------------------------


async def begin_attempt(tx: Tx, delivery: Row, url: str, worker: str) -> int:
    """Count the attempt before sending: a crash mid-send leaves an attempt
    with no status (interrupted), and the resend after recovery is a retry."""
    now = timefmt.now()
    await tx.run(
        "UPDATE webhook_deliveries SET attempts = attempts + 1, date_updated = :now"
        " WHERE seq = :seq",
        {"now": now, "seq": delivery["seq"]},
    )
    seq: int = await repo.insert(
        tx,
        "webhook_attempts",
        {
            "delivery_seq": delivery["seq"],
            "event_seq": delivery["event_seq"],
            "account_sid": delivery["account_sid"],
            "kind": delivery["kind"],
            "url": url,
            "retry_count": delivery["attempts"],
            "worker": worker,
            "status": None,
            "error": None,
            "latency_ms": None,
            "date_created": now,
            "date_updated": None,
        },
        returning="seq",
    )
    return seq


async def finish_attempt(
    tx: Tx,
    delivery: Row,
    attempt_seq: int,
    *,
    status: int | None,
    error: str | None,
    latency_ms: float | None,
    state: str,
    next_at: int = 0,
) -> None:
    now = timefmt.now()
    await repo.update(
        tx,
        "webhook_attempts",
        {"seq": attempt_seq},
        {"status": status, "error": error, "latency_ms": latency_ms, "date_updated": now},
    )
    await conclude(tx, delivery, status=status, error=error, state=state, next_at=next_at)


async def conclude(
    tx: Tx,
    delivery: Row,
    *,
    status: int | None,
    error: str | None,
    state: str,
    next_at: int = 0,
) -> None:
    now = timefmt.now()
    await repo.update(
        tx,
        "webhook_deliveries",
        {"seq": delivery["seq"]},
        {
            "state": state,
            "next_at": next_at,
            "last_status": status,
            "last_error": error,
            "date_updated": now,
        },
    )
    if state != PENDING:
        # never below 0: ``forget`` may have zeroed the lane while this was in flight
        await tx.run(
            "UPDATE webhook_lanes SET pending = pending - 1 WHERE lane = :lane AND pending > 0",
            {"lane": delivery["lane"]},
        )


async def forget(tx: Tx, account_sid: str | None) -> None:
    """Drop the deliveries (and attempts) of one account, or of all: what a
    state reset does with the events they were made from."""
    where = {"account_sid": account_sid} if account_sid else {}
    where_sql = "account_sid = :account AND " if account_sid else ""
    lanes = await tx.all(
        f"SELECT DISTINCT lane FROM webhook_deliveries WHERE {where_sql}state = :state",
        {"account": account_sid, "state": PENDING} if account_sid else {"state": PENDING},
    )
    await repo.delete(tx, "webhook_attempts", where)
    await repo.delete(tx, "webhook_deliveries", where)
    # a lane holds one account's deliveries (its key names a service or a
    # channel webhook), so the account's lanes are now empty and not waiting
    for row in lanes:
        await tx.run(
            "UPDATE webhook_lanes SET pending = 0, next_at = 0 WHERE lane = :lane",
            {"lane": row["lane"]},
        )


async def prune(tx: Tx, before: int, limit: int = 1000) -> int:
    """Forget up to ``limit`` finished deliveries (done, skipped or failed) last
    touched before ``before``, with their attempts, and lanes with nothing left.
    Returns how many deliveries went; callers repeat while it is ``limit``."""
    rows = await tx.all(
        "SELECT seq FROM webhook_deliveries WHERE state <> :pending AND date_updated < :before"
        " ORDER BY seq LIMIT :limit",
        {"pending": PENDING, "before": before, "limit": limit},
    )
    seqs = [r["seq"] for r in rows]
    if seqs:
        marks, bound = repo.in_list(seqs, "s")
        await tx.run(f"DELETE FROM webhook_attempts WHERE delivery_seq IN ({marks})", bound)
        await tx.run(f"DELETE FROM webhook_deliveries WHERE seq IN ({marks})", bound)
    # an idle lane row is recreated by the next delivery that joins it
    await tx.run(
        "DELETE FROM webhook_lanes WHERE pending = 0 AND claimed_by IS NULL AND next_at < :before",
        {"before": before},
    )
    return len(seqs)


# ---- observability --------------------------------------------------------


async def failed(tx: Tx, account_sid: str | None = None, limit: int = 100) -> list[Row]:
    """Deliveries that gave up, newest first, with their last outcome."""
    where = "state = :state" + (" AND account_sid = :account" if account_sid else "")
    params: dict[str, Any] = {"state": FAILED, "limit": limit}
    if account_sid:
        params["account"] = account_sid
    return await tx.all(
        "SELECT seq, event_seq, kind, account_sid, service_sid, channel_sid, webhook_sid,"
        " webhook_type, url, method, attempts, max_retries, last_status, last_error,"
        f" date_created, date_updated FROM webhook_deliveries WHERE {where}"
        " ORDER BY seq DESC LIMIT :limit",
        params,
    )


async def deliveries(
    tx: Tx, where: dict[str, Any], *, descending: bool, limit: int
) -> list[Delivery]:
    """Up to ``limit`` deliveries matching ``where`` (equality on columns), in
    ``seq`` order."""
    rows = await repo.page(tx, "webhook_deliveries", where, descending=descending, limit=limit)
    return cast(list[Delivery], rows)


async def pending(tx: Tx) -> tuple[int, int | None]:
    """How many deliveries wait to be sent, and when the oldest was made."""
    row = await tx.one(
        "SELECT COUNT(*) AS n, MIN(date_created) AS oldest FROM webhook_deliveries"
        " WHERE state = 'pending'"
    )
    return (int(row["n"]), row["oldest"]) if row else (0, None)


async def attempts(tx: Tx, delivery_seq: int) -> list[Attempt]:
    rows = await repo.select(tx, "webhook_attempts", {"delivery_seq": delivery_seq})
    return cast(list[Attempt], rows)
