"""The event record and how it enters the outbox."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

import orjson

from parley import timefmt
from parley.store import Row, Tx, repo

TABLE = "events"

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
    # the event ids the change took for Sync objects derived from its rows, by
    # counter (e.g. the channel document's, docs/decisions.md §45), for the
    # live fan-out (the bus carries it); not stored with the event
    revisions: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    def to_row(self) -> dict[str, Any]:
        return {**self.columns(), "payload": orjson.dumps(self.payload).decode()}

    def columns(self) -> dict[str, Any]:
        """The outbox row's columns but the payload."""
        return {
            "kind": self.kind,
            "account_sid": self.account_sid,
            "service_sid": self.service_sid,
            "channel_sid": self.channel_sid,
            "source": self.source,
            "identity": self.identity,
            "webhooks": int(self.webhooks),
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


async def by_seq(tx: Tx, seq: int) -> Event | None:
    """One event of the outbox."""
    row = await repo.get(tx, TABLE, {"seq": seq})
    return None if row is None else Event.from_row(row)


async def record(tx: Tx, event: Event) -> Event:
    """Write the event into the outbox inside ``tx``, update the in-transaction
    projections (the store's projectors, ``parley.store.base.Projector``), and
    queue it for the bus (published after commit)."""
    return await recorded(tx, event, await repo.insert(tx, TABLE, event.to_row(), returning="seq"))


def insert_from(event: Event, taken: Mapping[str, tuple[str, bool]]) -> tuple[str, Row]:
    """The event's insert for ``Tx.chain`` (``repo.insert_from``), for an event
    whose payload holds values the chain's first statement makes: ``taken``,
    payload key -> (SQL on the relation ``taken``, whether it is text). The
    payload's JSON is spliced around them (``CAST … AS TEXT`` and ``||``, the
    same on both engines; SIDs and integers need no escaping); the event's
    own ``account_sid``, ``service_sid`` and ``channel_sid`` follow their
    payload keys when those are taken. Then ``recorded`` with the returned seq."""
    shape = tuple(taken.items())
    columns, literals, last = _spliced(shape)
    rest = orjson.dumps({k: v for k, v in event.payload.items() if k not in taken}).decode()
    row = event.columns()
    for column in _OWN_COLUMNS.intersection(taken):
        del row[column]
    sql, bound = repo.insert_from(TABLE, row, columns, returning="seq")
    return sql, {**bound, **literals, "jz": last + ("}" if rest == "{}" else "," + rest[1:])}


_OWN_COLUMNS = frozenset({"account_sid", "service_sid", "channel_sid"})


@lru_cache(maxsize=64)
def _spliced(
    shape: tuple[tuple[str, tuple[str, bool]], ...],
) -> tuple[dict[str, str], dict[str, str], str]:
    """``insert_from``'s taken columns (the payload's SQL and the event's own
    columns among ``shape``), the payload's fixed pieces as parameters, and
    the text the rest of the payload follows."""
    literals: dict[str, str] = {}
    parts: list[str] = []
    literal = "{"
    for i, (key, (sql, text)) in enumerate(shape):
        quote = '"' if text else ""
        literal += ("," if i else "") + orjson.dumps(key).decode() + ":" + quote
        literals[f"j{i}"] = literal
        parts += [f"CAST(:j{i} AS TEXT)", f"CAST({sql} AS TEXT)"]
        literal = quote
    parts.append("CAST(:jz AS TEXT)")
    columns = {"payload": " || ".join(parts)}
    columns.update({key: sql for key, (sql, _) in shape if key in _OWN_COLUMNS})
    return columns, literals, literal


async def recorded(tx: Tx, event: Event, seq: int) -> Event:
    """``record``'s rest, for an event whose row the caller inserted (``insert_from``)."""
    event.seq = seq
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
    """Record an event about ``row`` (a stored row of the resource) as caused by ``origin``."""
    return await record(tx, new(origin, kind, row, channel_sid=channel_sid, held=held, **extra))


def new(
    origin: Origin,
    kind: str,
    row: Mapping[str, Any],
    *,
    channel_sid: str | None = None,
    held: dict[str, dict[str, Any]] | None = None,
    **extra: Any,
) -> Event:
    """The event ``emit`` records (``insert_from`` and ``recorded`` record it in two steps).

    SDK actions always allow post-event webhooks; REST ones only with the header.
    """
    return Event(
        kind=kind,
        account_sid=row["account_sid"],
        service_sid=row.get("service_sid"),
        channel_sid=channel_sid if channel_sid is not None else row.get("channel_sid"),
        payload={**row, **extra},
        source=origin.source,
        webhooks=origin.webhooks or origin.source == "sdk",
        identity=origin.identity,
        held=held or {},
    )
