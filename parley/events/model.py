"""The event record and how it enters the outbox."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from parley import timefmt
from parley.store import Tx, repo

Source = Literal["api", "sdk", "system"]


@dataclass(slots=True)
class Event:
    """One domain event.

    ``kind`` uses Twilio's post-event names where Twilio has one
    (``onMessageSent``, ``onChannelDestroyed``, …, docs/behaviour.md §W2) and
    ``parley.*`` names for changes no webhook reports (invites, roles, …).
    ``payload`` is a snapshot of the resource row after the change (before it,
    for removals) plus event-specific extras.
    ``webhooks`` is whether post-event webhooks may fire: SDK actions always,
    REST only with ``X-Twilio-Webhook-Enabled: true`` (docs/behaviour.md §C6).
    """

    kind: str
    account_sid: str
    service_sid: str | None
    channel_sid: str | None
    payload: dict[str, Any]
    source: Source = "api"
    webhooks: bool = False
    identity: str | None = None
    date_created: int = field(default_factory=timefmt.now)
    seq: int = 0
    # rows the emitting code already holds, as they are after the change (e.g. a
    # new message's channel, from the statement that took its index), for the
    # in-transaction projectors; never stored or published
    held: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False, compare=False)
    # the outboxes the in-transaction projectors queued work in for this event
    # (e.g. "push"): after commit only their workers are woken (the bus carries
    # it across processes); not stored with the event
    planned: set[str] = field(default_factory=set, repr=False, compare=False)

    def to_row(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "account_sid": self.account_sid,
            "service_sid": self.service_sid,
            "channel_sid": self.channel_sid,
            "source": self.source,
            "identity": self.identity,
            "webhooks": int(self.webhooks),
            "payload": orjson.dumps(self.payload).decode(),
            "date_created": self.date_created,
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "Event":
        return cls(
            kind=row["kind"],
            account_sid=row["account_sid"],
            service_sid=row["service_sid"],
            channel_sid=row["channel_sid"],
            payload=orjson.loads(row["payload"]),
            source=row["source"],
            webhooks=bool(row["webhooks"]),
            identity=row["identity"],
            date_created=row["date_created"],
            seq=row["seq"],
        )


@dataclass(frozen=True, slots=True)
class Origin:
    """Who caused a change: a REST call (``webhooks`` = the
    ``X-Twilio-Webhook-Enabled`` header), a client SDK user (``identity``), or
    Parley itself (cascades, control plane)."""

    source: Source = "api"
    webhooks: bool = False
    identity: str | None = None


async def record(tx: Tx, event: Event) -> Event:
    """Write the event into the outbox inside ``tx``, update the in-transaction
    projections (the store's projectors, ``parley.store.base.Projector``), and
    queue it for the bus (published after commit)."""
    event.seq = await repo.insert(tx, "events", event.to_row(), returning="seq")
    for projector in tx.projectors:
        await projector(tx, event)
    tx.events.append(event)
    return event


async def emit(
    tx: Tx,
    origin: Origin,
    kind: str,
    row: Mapping[str, Any],
    *,
    channel_sid: str | None = None,
    held: dict[str, dict[str, Any]] | None = None,
    **extra: Any,
) -> Event:
    """Record an event about ``row`` (a stored row of the resource) as caused by ``origin``.

    SDK actions always allow post-event webhooks; REST ones only with the header.
    """
    return await record(
        tx,
        Event(
            kind=kind,
            account_sid=row["account_sid"],
            service_sid=row.get("service_sid"),
            channel_sid=channel_sid if channel_sid is not None else row.get("channel_sid"),
            payload={**row, **extra},
            source=origin.source,
            webhooks=origin.webhooks or origin.source == "sdk",
            identity=origin.identity,
            held=held or {},
        ),
    )
