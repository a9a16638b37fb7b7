"""What a test double needs from webhook delivery: the record, faults, a clean slate.

- ``deliveries``: every post-event delivery of an account, oldest first: what was
  sent (event type and its parameters), to where (URL, method, channel webhook),
  and how it was answered (each attempt's status, error, latency) -- the rows the
  worker keeps anyway (``webhook_deliveries`` / ``webhook_attempts``).
- faults: "the next N deliveries time out / answer 503" (``add_fault``). The
  worker calls ``take_fault`` as it begins each attempt; an injected outcome
  goes through the same retry judgement, back-off and bookkeeping as a real one,
  so a service's retry count applies to it. The receiver never sees an injected
  attempt. An injected timeout is reported at once (as if the whole timeout had
  passed) so tests stay fast.
  Faults are rows (``webhook_faults``), so they hold whichever process's worker
  sends; each account has its own.
"""

from dataclasses import dataclass
from typing import Any, TypedDict, cast

from parley import timefmt
from parley.events import Event
from parley.sids import AccountSid
from parley.store import Tx, repo
from parley.webhooks import outbox, params, sender

STATES = (outbox.PENDING, outbox.DONE, outbox.FAILED, outbox.SKIPPED)


@dataclass
class Fault:
    """Injected outcome for the next ``count`` matching attempts."""

    count: int
    status: int | None = None  # an HTTP status to answer with; None: a timeout
    url: str | None = None  # only deliveries to URLs starting with this
    kind: str | None = None  # only this event type (e.g. onMessageSent)

    def matches(self, url: str, kind: str) -> bool:
        return (self.url is None or url.startswith(self.url)) and (
            self.kind is None or self.kind == kind
        )

    def outcome(self) -> sender.Outcome:
        if self.status is None:
            return sender.Outcome(None, "timeout (injected)", 0.0, True)
        ok = 200 <= self.status < 300
        error = None if ok else f"HTTP {self.status} (injected)"
        return sender.Outcome(self.status, error, 0.0, self.status in sender.RETRY_STATUSES)

    def describe(self) -> dict[str, Any]:
        return {
            "remaining": self.count,
            "status": self.status,
            "timeout": self.status is None,
            "url": self.url,
            "event_type": self.kind,
        }


class FaultRow(TypedDict):
    """A row of ``webhook_faults``, which this module owns: a ``Fault`` with
    the uses it has left."""

    seq: int
    account_sid: AccountSid
    remaining: int
    status: int | None
    url: str | None
    kind: str | None
    date_created: int


async def _faults(tx: Tx, account_sid: str) -> list[FaultRow]:
    """The account's faults, oldest first."""
    rows = await repo.select(tx, "webhook_faults", {"account_sid": account_sid})
    return cast(list[FaultRow], rows)


def _fault(row: FaultRow) -> Fault:
    return Fault(int(row["remaining"]), row["status"], row["url"], row["kind"])


async def add_fault(tx: Tx, account_sid: str, fault: Fault) -> None:
    if fault.count < 1:
        raise ValueError("count must be at least 1")
    if fault.status is not None and not 100 <= fault.status <= 599:
        raise ValueError("status must be an HTTP status (100-599)")
    row = {
        "account_sid": account_sid,
        "remaining": fault.count,
        "status": fault.status,
        "url": fault.url,
        "kind": fault.kind,
        "date_created": timefmt.now(),
    }
    await repo.insert(tx, "webhook_faults", row)


async def take_fault(tx: Tx, account_sid: str, url: str, kind: str) -> sender.Outcome | None:
    """The injected outcome for this attempt: one use of the oldest matching
    fault, taken in the attempt's own write transaction (so once, whichever
    process sends)."""
    for row in await _faults(tx, account_sid):
        fault = _fault(row)
        if fault.matches(url, kind):
            if fault.count <= 1:
                await repo.delete(tx, "webhook_faults", {"seq": row["seq"]})
            else:
                await repo.bump(tx, "webhook_faults", {"seq": row["seq"]}, "remaining", -1)
            return fault.outcome()
    return None


async def faults(tx: Tx, account_sid: str) -> list[dict[str, Any]]:
    return [_fault(row).describe() for row in await _faults(tx, account_sid)]


async def clear_faults(tx: Tx, account_sid: str | None) -> None:
    await repo.delete(
        tx, "webhook_faults", {} if account_sid is None else {"account_sid": account_sid}
    )


async def deliveries(
    tx: Tx,
    account_sid: str,
    *,
    state: str | None = None,
    kind: str | None = None,
    limit: int = 1000,
    service_sid: str | None = None,
    newest_first: bool = False,
) -> list[dict[str, Any]]:
    """The account's deliveries (of one service, if given), oldest first (or
    newest first), each with its attempts.

    At most ``limit`` rows are read; deliveries of events no longer stored (an
    account reset while a delivery was in flight) are left out of them.
    """
    where: dict[str, Any] = {"account_sid": account_sid}
    if state is not None:
        where["state"] = state
    if kind is not None:
        where["kind"] = kind
    if service_sid is not None:
        where["service_sid"] = service_sid
    rows = await outbox.deliveries(tx, where, descending=newest_first, limit=limit)
    out: list[dict[str, Any]] = []
    for row in rows:
        event = await outbox.event(tx, row["event_seq"])
        if event is None:
            continue
        out.append(await _describe(tx, row, event))
    return out


async def _describe(tx: Tx, row: outbox.Delivery, event: Event) -> dict[str, Any]:
    sent = params.for_event(event, 0)
    sent.pop("RetryCount", None)  # differs per attempt: see attempts[].retry_count
    if row["webhook_sid"] and row["webhook_type"]:  # a channel webhook's (set together)
        sent["WebhookSid"], sent["WebhookType"] = row["webhook_sid"], row["webhook_type"]
    return {
        "id": row["seq"],
        "event_type": row["kind"],
        "url": row["url"] or None,  # None: a studio webhook (PARLEY_STUDIO_URL at send time)
        "method": row["method"],
        "service_sid": row["service_sid"],
        "channel_sid": row["channel_sid"],
        "webhook_sid": row["webhook_sid"],
        "webhook_type": row["webhook_type"],
        "state": row["state"],
        "retries_allowed": row["max_retries"],
        "params": sent,
        "attempts": [
            {
                "retry_count": a["retry_count"],
                "url": a["url"],
                "status": a["status"],
                "error": a["error"],
                "latency_ms": a["latency_ms"],
                "date_created": timefmt.to_twilio(a["date_created"]),
            }
            for a in await outbox.attempts(tx, row["seq"])
        ],
        "last_status": row["last_status"],
        "last_error": row["last_error"],
        "date_created": timefmt.to_twilio(row["date_created"]),
    }
