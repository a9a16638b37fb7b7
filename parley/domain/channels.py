"""Channels: the rooms of a service (docs/behaviour.md §R3).

Counters kept on the channel row, each changed in the transaction of the change
that moves it (docs/behaviour.md §R13): ``members_count``, ``messages_count``,
``next_message_index`` (the next message's index, never reused) and
``last_message_sid`` (the highest-index existing message, for
``links.last_message``); and the event counters of the channel's Sync messages
list and document (``messages_event_id``, ``document_event_id``), which are
derived from these rows (docs/decisions.md §45): the change that moves an
object takes its next event id in the same statement.
"""

from collections.abc import Mapping, Sequence
from typing import Any, TypedDict, cast

from parley import sids, timefmt
from parley.domain import services
from parley.errors import TwilioError
from parley.events import Origin, emit
from parley.sids import AccountSid, ChannelSid, MessageSid, ServiceSid
from parley.store import Row, Tx, UniqueViolation, repo

TABLE = "channels"
"""For the generic REST lookups and pagers (``api/scope.py``, ``Call.listing``)."""


class Channel(TypedDict):
    """A row of ``channels``, the table this module owns: other modules read
    and write it through the queries below."""

    seq: int
    sid: ChannelSid
    account_sid: AccountSid
    service_sid: ServiceSid
    friendly_name: str | None
    unique_name: str | None
    attributes: str | None
    type: str  # PUBLIC or PRIVATE
    created_by: str | None
    members_count: int
    messages_count: int
    next_message_index: int
    last_message_sid: MessageSid | None
    messages_event_id: int  # the Sync messages list's last event id
    document_event_id: int  # the Sync channel document's last event id
    date_created: int
    date_updated: int | None


# what functions of other modules take: a typed row, or one read by the
# generic repository (the REST layer's scope lookups)
ChannelRow = Channel | Row

PUBLIC = "public"
PRIVATE = "private"
TYPES = (PUBLIC, PRIVATE)
SYSTEM = "system"  # created_by / from of REST-created objects (docs/behaviour.md §R3, §R5)


async def by_sid(tx: Tx, channel_sid: str) -> Channel | None:
    row = await repo.get(tx, TABLE, {"sid": channel_sid})
    return cast(Channel, row) if row is not None else None


async def of_service(tx: Tx, service_sid: str) -> list[Channel]:
    """The service's channels, oldest first."""
    return [cast(Channel, r) for r in await repo.select(tx, TABLE, {"service_sid": service_sid})]


async def of_service_among(
    tx: Tx, service_sid: str, channel_sids: Sequence[str], limit: int
) -> list[Channel]:
    """Up to ``limit`` of the service's channels among ``channel_sids``, oldest first."""
    if not channel_sids:
        return []
    rows = await repo.page(
        tx, TABLE, {"service_sid": service_sid}, any_of={"sid": channel_sids}, limit=limit
    )
    return [cast(Channel, r) for r in rows]


async def take_member_slot(tx: Tx, channel_sid: str) -> int:
    """Count one more member; how many the channel had before (the row stays
    locked until commit, so ``limits_channel_members`` holds under concurrent
    joins)."""
    return await repo.take(tx, TABLE, {"sid": channel_sid}, "members_count")


async def release_member_slot(tx: Tx, channel_sid: str) -> None:
    """Count one member less (a membership ended)."""
    await repo.bump(tx, TABLE, {"sid": channel_sid}, "members_count", -1)


async def _check_unique_name(
    tx: Tx, service: services.Service, name: str | None, own_sid: str | None
) -> None:
    if name is None:
        return
    if sids.looks_like(sids.CHANNEL, name):
        raise TwilioError(50306, value=name)
    found = await repo.get(tx, TABLE, {"service_sid": service["sid"], "unique_name": name})
    if found is not None and found["sid"] != own_sid:
        raise TwilioError(50307, value=name)


async def find(tx: Tx, service: services.Service, key: str) -> Row | None:
    """A channel of this service by SID or unique name (docs/behaviour.md §R1)."""
    where = {"service_sid": service["sid"]}
    if sids.looks_like(sids.CHANNEL, key):
        return await repo.get(tx, TABLE, {"sid": sids.normalise(key), **where})
    return await repo.get(tx, TABLE, {"unique_name": key, **where})


async def search(tx: Tx, service_sid: str, text: str, limit: int) -> list[Row]:
    """The service's channels (public and private) whose friendly or unique name
    contains ``text``, case-insensitively, oldest first: the console's search."""
    pattern = "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return await tx.all(
        "SELECT * FROM channels WHERE service_sid = :service"
        " AND (LOWER(friendly_name) LIKE :pattern ESCAPE '\\'"
        " OR LOWER(unique_name) LIKE :pattern ESCAPE '\\')"
        " ORDER BY seq LIMIT :limit",
        {"service": service_sid, "pattern": pattern, "limit": limit},
    )


async def create(
    tx: Tx, service: services.Service, values: Mapping[str, Any], origin: Origin
) -> Row:
    """Create a channel. ``values`` by column name: friendly_name, unique_name,
    attributes, type, created_by, date_created, date_updated (import)."""
    unique_name = values.get("unique_name")
    await _check_unique_name(tx, service, unique_name, None)
    row: Row = {
        "sid": sids.new_sid(sids.CHANNEL),
        "account_sid": service["account_sid"],
        "service_sid": service["sid"],
        "friendly_name": values.get("friendly_name"),
        "unique_name": unique_name,
        "attributes": values.get("attributes"),
        "type": values.get("type") or PUBLIC,
        # docs/behaviour.md §R3: REST-created channels are created by "system"
        "created_by": values.get("created_by") or (origin.identity or SYSTEM),
        "members_count": 0,
        "messages_count": 0,
        "next_message_index": 0,
        "last_message_sid": None,
        "messages_event_id": 0,
        # the document's first data is its event 1 (what a subscriber from 0 replays)
        "document_event_id": 1,
        "date_created": values.get("date_created") or timefmt.now(),
        "date_updated": values.get("date_updated"),
    }
    try:
        await repo.insert(tx, TABLE, row)
    except UniqueViolation:  # a concurrent create took the name first
        raise TwilioError(50307, value=unique_name) from None
    await emit(tx, origin, "onChannelAdded", row, channel_sid=row["sid"])
    return row


async def update(
    tx: Tx,
    service: services.Service,
    channel: ChannelRow,
    values: Mapping[str, Any],
    origin: Origin,
) -> Row:
    """Partial update; ``type`` cannot change (docs/behaviour.md §R3). ``date_updated``
    becomes now unless ``DateUpdated`` is given."""
    changes = {k: v for k, v in values.items() if k != "type"}
    if "unique_name" in changes:
        await _check_unique_name(tx, service, changes["unique_name"], channel["sid"])
    changes["date_updated"] = changes.get("date_updated") or timefmt.now()
    try:
        # the document's next event id with the change, and the row as it is now
        taken = await repo.take_row(
            tx, TABLE, {"sid": channel["sid"]}, "document_event_id", changes=changes
        )
    except UniqueViolation:
        raise TwilioError(50307, value=changes.get("unique_name")) from None
    if taken is None:
        raise LookupError(channel["sid"])
    updated = taken[1]
    await emit(tx, origin, "onChannelUpdated", updated, channel_sid=channel["sid"])
    return updated


async def reload(tx: Tx, channel: ChannelRow) -> Row:
    """The channel as stored now (counters move under concurrent writers)."""
    row = await repo.get(tx, TABLE, {"sid": channel["sid"]})
    if row is None:
        raise LookupError(channel["sid"])
    return row


async def take_message(
    tx: Tx,
    where: Mapping[str, Any],
    message_sid: str,
    also_return: Mapping[str, str],
    then: Sequence[tuple[str, Row]],
) -> Row | None:
    """A new message's index, in one statement that is also the channel's
    lookup (``where``: SID or unique name, with service and account): the
    index, ``messages_count`` + 1, ``last_message_sid``, and the next event id
    of the messages list (the new item's) and of the document (its
    ``lastMessage``); ``then``: inserts that read the row it leaves
    (``repo.take_row_then``). Returns that row (the index is
    ``next_message_index`` - 1), with ``also_return``'s expressions and what
    the inserts returned; None when no channel matches (nothing inserted)."""
    return await repo.take_row_then(
        tx,
        TABLE,
        where,
        "next_message_index",
        then,
        also_bump=("messages_count", "messages_event_id", "document_event_id"),
        changes={"last_message_sid": message_sid},
        also_return=also_return,
    )


async def take_list_event(tx: Tx, channel_sid: str) -> int:
    """The messages list's next event id (a message edited)."""
    return await repo.take(tx, TABLE, {"sid": channel_sid}, "messages_event_id") + 1


async def drop_message(tx: Tx, channel_sid: str) -> Row | None:
    """A message removed: ``messages_count`` - 1 and the next event id of the
    list (the item's removal) and of the document; the row as it is now."""
    return await tx.one(
        "UPDATE channels SET messages_count = messages_count - 1,"
        " messages_event_id = messages_event_id + 1, document_event_id = document_event_id + 1"
        " WHERE sid = :s RETURNING *",
        {"s": channel_sid},
    )


async def set_last_message(tx: Tx, channel_sid: str, message_sid: str | None) -> None:
    await repo.update(tx, TABLE, {"sid": channel_sid}, {"last_message_sid": message_sid})


async def among(tx: Tx, channel_sids: Sequence[str]) -> dict[str, Row]:
    """Channels by SID (the Sync view's derived objects read their counters)."""
    found: dict[str, Row] = {}
    for start in range(0, len(channel_sids), 500):
        marks, bound = repo.in_list(channel_sids[start : start + 500], "c")
        rows = await tx.all(f"SELECT * FROM channels WHERE sid IN ({marks})", bound)
        found.update((row["sid"], row) for row in rows)
    return found


async def lock(tx: Tx, channel_sid: str) -> None:
    """Lock the channel row until commit (a no-op write), as member add/remove
    and message create do first (channel, then user): no lock-order deadlock
    with them on PostgreSQL."""
    await repo.bump(tx, TABLE, {"sid": channel_sid}, "members_count", 0)


async def delete_row(tx: Tx, channel_sid: str) -> None:
    """Remove the channel's row; the cascade is ``domain/channel_delete.py``'s."""
    await repo.delete(tx, TABLE, {"sid": channel_sid})


async def forget_service(tx: Tx, service_sid: str) -> None:
    """Every channel of a service being deleted (``service_delete.delete``): no events."""
    await repo.delete(tx, TABLE, {"service_sid": service_sid})
