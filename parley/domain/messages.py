"""Messages and their index (docs/behaviour.md §R5).

Index assignment, gap-free and unique per channel under any number of
concurrent writers (on PostgreSQL across processes too):

::

    write tx ─ take(channels.next_message_index)  -> idx (row lock held to commit)
               with messages_count + 1, last_message_sid = this message, and the
               Sync list's and document's next event ids (same UPDATE)
             ─ insert message (UNIQUE channel_sid+idx as the backstop), with
               its list event id (list_added, list_revision)
             ─ onMessageSent / onMediaMessageSent
    commit   ─ lock released; the next writer gets idx + 1

A rolled-back create gives its index back with the rollback, so indexes stay
0, 1, 2, ... with no gap; a deleted message's index is never reused (the
counter only grows).

The channel's Sync messages list is read from this table (docs/decisions.md
§45): an item is a message, its revision ``list_revision`` (the list event
that last wrote it), and a replay after a position is the messages revised
after it (``revised_after``), added ones told from updated by ``list_added``.
"""

from collections.abc import Mapping
from typing import Any

from parley import sids, timefmt
from parley.domain import channels, services
from parley.domain import media as media_store
from parley.errors import TwilioError
from parley.events import Origin, emit, insert_from, new, recorded
from parley.store import Row, Tx, UniqueViolation, repo

TABLE = "messages"
"""For the generic REST lookups and pagers (``api/scope.py``, ``Call.listing``)."""
SYSTEM = "system"  # the author of a message created without From (docs/behaviour.md §R5)
TEXT = "text"
MEDIA = "media"
# the push a new message may cause (parley/push/plan.py): the index take also
# returns the service's settings for it, held on the event for the plan
PUSH = "new_message"
HELD_PUSH = f"push_{PUSH}"  # the Event.held key
_PUSH_PREFIX = "push_"  # of their names in the take's row
_PUSH_RETURNING = services.push_settings_returning(PUSH, "channels.service_sid", _PUSH_PREFIX)
# a new message's columns that the channel's index take makes (SQL on its row,
# the relation ``taken`` of Tx.chain), and the same in its event's payload
_TAKEN_COLUMNS = {
    "account_sid": "taken.account_sid",
    "service_sid": "taken.service_sid",
    "channel_sid": "taken.sid",
    "idx": "taken.next_message_index - 1",
    "list_added": "taken.messages_event_id",
    "list_revision": "taken.messages_event_id",
}
_TEXT = {"account_sid", "service_sid", "channel_sid"}
# the channel document's revision a change took (Event.revisions, for the live
# Sync fan-out: the document is derived from the rows, docs/decisions.md §45)
DOCUMENT_REVISION = "document_event_id"
_TAKEN_PAYLOAD = {k: (sql, k in _TEXT) for k, sql in _TAKEN_COLUMNS.items()}


def media_of(message: Row) -> dict[str, Any] | None:
    """Twilio's ``media`` object of a message (docs/behaviour.md §P8)."""
    if message["media_sid"] is None:
        return None
    return {
        "sid": message["media_sid"],
        "size": message["media_size"],
        "content_type": message["media_content_type"],
        "filename": message["media_filename"],
    }


async def _attach(tx: Tx, service: Row, media_sid: str) -> media_store.MediaRow:
    media = await media_store.of_service(tx, service["sid"], media_sid)
    if media is None:
        raise TwilioError(50507, value=media_sid)
    if media["message_sid"] is not None:
        raise TwilioError(50508, value=media_sid)
    return media


async def create(
    tx: Tx, service: Row, channel: Row, values: Mapping[str, Any], origin: Origin
) -> Row:
    """Post a message. ``values`` by column name: author (``From``), body,
    attributes, media_sid, last_updated_by, date_created, date_updated (import
    dates do not change the index: arrival order does, docs/behaviour.md §R14)."""
    created = await _post(tx, service, {"sid": channel["sid"]}, values, origin)
    if created is None:
        raise LookupError(f"channel {channel['sid']} is gone")
    return created


async def create_in(
    tx: Tx, where: Mapping[str, Any], values: Mapping[str, Any], origin: Origin
) -> Row | None:
    """Post a text message to the channel ``where`` names (columns of
    ``channels``, e.g. SID or unique name with service and account), found by
    the statement that takes the index: no lookup before it. None when no
    channel matches. A media message needs its service first (``create``)."""
    if values.get("media_sid") is not None:
        raise ValueError("a media message is posted with create()")
    return await _post(tx, None, where, values, origin)


async def _post(
    tx: Tx,
    service: Row | None,
    where: Mapping[str, Any],
    values: Mapping[str, Any],
    origin: Origin,
) -> Row | None:
    media = None
    if values.get("media_sid") is not None:
        assert service is not None  # create() passes it
        media = await _attach(tx, service, values["media_sid"])
    body = values.get("body")
    if body is None and media is None:
        body = ""  # spec: an empty or null Body is stored as "" (docs/decisions.md §25)
    sid = sids.new_sid(sids.MESSAGE)
    row: Row = {
        "sid": sid,
        "author": values.get("author") or origin.identity or SYSTEM,
        "body": body,
        "attributes": values.get("attributes"),
        "type": MEDIA if media else TEXT,
        "media_sid": media["sid"] if media else None,
        "media_content_type": media["content_type"] if media else None,
        "media_filename": media["filename"] if media else None,
        "media_size": media["size"] if media else None,
        "last_updated_by": values.get("last_updated_by"),  # docs/decisions.md §3
        "was_edited": 0,
        "date_created": values.get("date_created") or timefmt.now(),
        "date_updated": values.get("date_updated"),
    }
    extra: dict[str, Any] = {}
    if media is not None:
        assert service is not None  # create() passes it
        # the service's text for clients that cannot show media, and for the
        # ${MESSAGE} of new-message pushes (docs/behaviour.md §P8)
        compatibility = service["media_compatibility_message"] or services.COMPATIBILITY_MESSAGE
        extra = {"media": media_of(row), "compatibility_message": compatibility}
    kind = "onMessageSent" if media is None else "onMediaMessageSent"
    # what the channel's index take makes, for both inserts
    event = new(origin, kind, {"account_sid": "", **row}, **extra)
    insert_event = insert_from(event, _TAKEN_PAYLOAD)
    insert_message = repo.insert_from(TABLE, row, _TAKEN_COLUMNS)
    # one statement on PostgreSQL (Tx.chain; docs/decisions.md §46): the index,
    # messages_count + 1, last_message_sid, the Sync list's and document's
    # event ids and the service's new-message push settings, with the message
    # and its outbox event inserted from that row
    try:
        channel = await channels.take_message(
            tx, where, sid, _PUSH_RETURNING, [insert_message, insert_event]
        )
    except UniqueViolation:  # the same media attached by a concurrent create
        raise TwilioError(50508, value=row["media_sid"]) from None
    if channel is None:
        return None
    seq = channel.pop("q1_seq")
    push = {name.removeprefix(_PUSH_PREFIX): channel.pop(name) for name in _PUSH_RETURNING}
    made = {
        "account_sid": channel["account_sid"],
        "service_sid": channel["service_sid"],
        "channel_sid": channel["sid"],
        "idx": int(channel["next_message_index"]) - 1,
        # the Sync list event that adds it (its item's revision)
        "list_added": channel["messages_event_id"],
        "list_revision": channel["messages_event_id"],
    }
    row.update(made)
    event.payload.update(made)
    event.account_sid, event.service_sid = made["account_sid"], made["service_sid"]
    event.channel_sid = made["channel_sid"]
    # as this message left them: no reader need fetch them again
    event.held = {"channel": channel, HELD_PUSH: push}
    event.revisions = {DOCUMENT_REVISION: channel[DOCUMENT_REVISION]}
    if media is not None:
        await media_store.attach(tx, media["sid"], row["sid"])
    await recorded(tx, event, seq)
    return row


async def update(
    tx: Tx,
    service: Row,
    channel: Row,
    message: Row,
    values: Mapping[str, Any],
    origin: Origin,
) -> Row:
    """Edit a message: body (not of a media message, 50509), attributes,
    author, last_updated_by, dates. ``was_edited`` becomes true when the body or
    the attributes change (docs/decisions.md §4); index, channel, type and media
    never change."""
    changes = dict(values)
    if "body" in changes:
        if message["type"] == MEDIA:
            raise TwilioError(50509)
        changes["body"] = changes["body"] or ""
    if any(k in changes and changes[k] != message[k] for k in ("body", "attributes")):
        changes["was_edited"] = 1
    changes["date_updated"] = changes.get("date_updated") or timefmt.now()
    # the list item's new revision (locks the channel row, as a create does)
    changes["list_revision"] = await channels.take_list_event(tx, channel["sid"])
    await repo.update(tx, TABLE, {"sid": message["sid"]}, changes)
    updated = {**message, **changes}
    modified_by = changes.get("last_updated_by") or origin.identity or SYSTEM
    await emit(tx, origin, "onMessageUpdated", updated, modified_by=modified_by)
    return updated


async def remove(tx: Tx, service: Row, channel: Row, message: Row, origin: Origin) -> None:
    """Delete a message (its media goes with it): ``messages_count`` - 1
    (docs/decisions.md §6), ``links.last_message`` moves to the previous
    surviving message; the index is not reused; horizons are untouched."""
    # the channel row first, as create and update lock it: no lock-order
    # deadlock with an edit of the same message on PostgreSQL
    await channels.lock(tx, channel["sid"])
    if await repo.delete(tx, TABLE, {"sid": message["sid"]}) == 0:
        return  # removed concurrently
    if message["media_sid"] is not None:
        await media_store.delete(tx, message["media_sid"])
    # takes the list's event id for the item's removal
    current = await channels.drop_message(tx, channel["sid"])
    if current is not None and current["last_message_sid"] == message["sid"]:
        previous = await last(tx, channel["sid"])
        last_sid = previous["sid"] if previous else None
        await channels.set_last_message(tx, channel["sid"], last_sid)
        current["last_message_sid"] = last_sid
    removed_by = origin.identity or SYSTEM
    held = {"channel": current} if current is not None else None
    event = await emit(tx, origin, "onMessageRemoved", message, removed_by=removed_by, held=held)
    if current is not None:
        event.revisions = {DOCUMENT_REVISION: current[DOCUMENT_REVISION]}


async def forget_channel(tx: Tx, channel_sid: str) -> None:
    """Every message of a channel being deleted, and their media (no events)."""
    for message in await repo.select(tx, TABLE, {"channel_sid": channel_sid, "type": MEDIA}):
        await media_store.delete(tx, message["media_sid"])
    await repo.delete(tx, TABLE, {"channel_sid": channel_sid})


async def forget_service(tx: Tx, service_sid: str) -> None:
    """Every message of a service being deleted (its media go with the service's)."""
    await repo.delete(tx, TABLE, {"service_sid": service_sid})


async def by_sid_in(tx: Tx, channel_sid: str, message_sid: str) -> Row | None:
    return await repo.get(tx, TABLE, {"sid": message_sid, "channel_sid": channel_sid})


async def at_index(tx: Tx, channel_sid: str, idx: int) -> Row | None:
    return await repo.get(tx, TABLE, {"channel_sid": channel_sid, "idx": idx})


async def count_after(tx: Tx, channel_sid: str, idx: int) -> int:
    """Messages of the channel with an index above ``idx``."""
    return await repo.count_above(tx, TABLE, {"channel_sid": channel_sid}, "idx", idx)


async def last(tx: Tx, channel_sid: str) -> Row | None:
    """The channel's highest-index message."""
    return await tx.one(
        "SELECT * FROM messages WHERE channel_sid = :c ORDER BY idx DESC LIMIT 1",
        {"c": channel_sid},
    )


async def page_by_index(
    tx: Tx, channel_sid: str, *, descending: bool, after: int | None, limit: int
) -> list[Row]:
    """A keyset page in index order, strictly after ``after`` (in page order)."""
    return await repo.page(
        tx,
        TABLE,
        {"channel_sid": channel_sid},
        column="idx",
        descending=descending,
        after=after,
        limit=limit,
    )


async def any_beyond(tx: Tx, channel_sid: str, idx: int, descending: bool) -> bool:
    """Whether a message lies before ``idx`` in page order."""
    found = await repo.page(
        tx,
        TABLE,
        {"channel_sid": channel_sid},
        column="idx",
        descending=not descending,
        after=idx,
        limit=1,
    )
    return bool(found)


async def revised_after(
    tx: Tx, channel_sid: str, after: int, limit: int, *, first_idx: int
) -> list[Row]:
    """The channel's first ``limit`` messages whose list revision is above
    ``after``, in revision order (the messages list's replay, docs/decisions.md
    §45). ``first_idx``: no message below this index was added after
    ``after`` (the caller's bound from the channel's counters). Messages never
    edited are read by index from there (their revision is the event that
    added them, which grows with the index); edited ones by the partial index
    that holds only them: a new message writes no index entry for replay."""
    params = {"c": channel_sid, "a": after, "n": limit, "i": first_idx}
    added = await tx.all(
        "SELECT * FROM messages WHERE channel_sid = :c AND idx >= :i AND list_added > :a"
        " AND list_revision = list_added ORDER BY idx LIMIT :n",
        params,
    )
    edited = await tx.all(
        "SELECT * FROM messages WHERE channel_sid = :c AND list_revision > :a"
        " AND list_revision <> list_added ORDER BY list_revision LIMIT :n",
        params,
    )
    # two revision-ordered lists of at most ``limit``: their first ``limit``
    return sorted(added + edited, key=lambda r: int(r["list_revision"]))[:limit]


async def with_sids(tx: Tx, message_sids: list[str]) -> list[Row]:
    marks, bound = repo.in_list(message_sids, "m")
    return await tx.all(f"SELECT * FROM messages WHERE sid IN ({marks})", bound)
