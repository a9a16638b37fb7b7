"""Channels: the rooms of a service (docs/behaviour.md §R3).

Counters kept on the channel row, each changed in the transaction of the change
that moves it (docs/behaviour.md §R13): ``members_count``, ``messages_count``,
``next_message_index`` (the next message's index, never reused) and
``last_message_sid`` (the highest-index existing message, for
``links.last_message``).
"""

from collections.abc import Mapping
from typing import Any

from parley import sids, timefmt
from parley.domain import media
from parley.errors import TwilioError
from parley.events import Origin, emit
from parley.store import Row, Tx, UniqueViolation, repo

PUBLIC = "public"
PRIVATE = "private"
TYPES = (PUBLIC, PRIVATE)
SYSTEM = "system"  # created_by / from of REST-created objects (docs/behaviour.md §R3, §R5)

# Rows that belong to one channel and go with it (docs/behaviour.md §R3 "delete").
_OWNED = ("messages", "members", "invites", "channel_webhooks")


async def _check_unique_name(tx: Tx, service: Row, name: str | None, own_sid: str | None) -> None:
    if name is None:
        return
    if sids.looks_like(sids.CHANNEL, name):
        raise TwilioError(50306, value=name)
    found = await repo.get(tx, "channels", {"service_sid": service["sid"], "unique_name": name})
    if found is not None and found["sid"] != own_sid:
        raise TwilioError(50307, value=name)


async def find(tx: Tx, service: Row, key: str) -> Row | None:
    """A channel of this service by SID or unique name (docs/behaviour.md §R1)."""
    where = {"service_sid": service["sid"]}
    if sids.looks_like(sids.CHANNEL, key):
        return await repo.get(tx, "channels", {"sid": sids.normalise(key), **where})
    return await repo.get(tx, "channels", {"unique_name": key, **where})


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


async def create(tx: Tx, service: Row, values: Mapping[str, Any], origin: Origin) -> Row:
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
        "date_created": values.get("date_created") or timefmt.now(),
        "date_updated": values.get("date_updated"),
    }
    try:
        await repo.insert(tx, "channels", row)
    except UniqueViolation:  # a concurrent create took the name first
        raise TwilioError(50307, value=unique_name) from None
    await emit(tx, origin, "onChannelAdded", row, channel_sid=row["sid"])
    return row


async def update(
    tx: Tx, service: Row, channel: Row, values: Mapping[str, Any], origin: Origin
) -> Row:
    """Partial update; ``type`` cannot change (docs/behaviour.md §R3). ``date_updated``
    becomes now unless ``DateUpdated`` is given."""
    changes = {k: v for k, v in values.items() if k != "type"}
    if "unique_name" in changes:
        await _check_unique_name(tx, service, changes["unique_name"], channel["sid"])
    changes["date_updated"] = changes.get("date_updated") or timefmt.now()
    try:
        await repo.update(tx, "channels", {"sid": channel["sid"]}, changes)
    except UniqueViolation:
        raise TwilioError(50307, value=changes.get("unique_name")) from None
    updated = await reload(tx, channel)
    await emit(tx, origin, "onChannelUpdated", updated, channel_sid=channel["sid"])
    return updated


async def reload(tx: Tx, channel: Row) -> Row:
    """The channel as stored now (counters move under concurrent writers)."""
    row = await repo.get(tx, "channels", {"sid": channel["sid"]})
    if row is None:
        raise LookupError(channel["sid"])
    return row


async def delete(tx: Tx, service: Row, channel: Row, origin: Origin) -> None:
    """The channel and everything in it: members (each user's
    ``joined_channels_count`` - 1), messages (and their media), invites and
    channel webhooks. Only ``onChannelDestroyed`` is emitted (docs/behaviour.md §W2:
    a cascade reports only the object the call named)."""
    sid = channel["sid"]
    # lock the channel row first, as member add/remove and message create do
    # (channel, then user): no lock-order deadlock with them on PostgreSQL
    await repo.bump(tx, "channels", {"sid": sid}, "members_count", 0)
    # recorded before the cascade: the channel's own webhooks (deleted below)
    # must still be there when the event's deliveries are planned, since
    # onChannelDestroyed is one of their filters (docs/behaviour.md §W6)
    await emit(tx, origin, "onChannelDestroyed", channel, channel_sid=sid)
    for member in await repo.select(tx, "members", {"channel_sid": sid}):
        await repo.bump(tx, "users", {"sid": member["user_sid"]}, "joined_channels_count", -1)
    for message in await repo.select(tx, "messages", {"channel_sid": sid, "type": "media"}):
        await media.delete(tx, message["media_sid"])
    for table in _OWNED:
        await repo.delete(tx, table, {"channel_sid": sid})
    await repo.delete(tx, "channels", {"sid": sid})
