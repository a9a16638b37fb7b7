"""The Sync view as clients read it: stored objects and the channel objects
derived from the rows (docs/decisions.md §45).

A channel's messages list and its document are not copies. Their
``sync_objects`` rows hold what is theirs alone (SID, ACL, creation date);
everything else is read from the rows, when it is asked for::

    {CH}.messages list   items  <- messages (index, message_data, revision list_revision)
                         events <- messages revised after the position (added when
                                   list_added is after it, else updated), merged with the
                                   stored removals (sync_events: removed items, the list's end)
                         last event id <- channels.messages_event_id
    {CH}.channel document  data <- channels + the last message (channel_data)
                         events <- one document_updated at channels.document_event_id when
                                   that is after the position (a document's replay is its
                                   newest state), merged with its stored removal
                         last event id <- channels.document_event_id

Every other object (rosters, user maps, session lists) is stored
(``store.py``): its items and events are rows of their own. Readers call this
module, never ``store.py``'s readers, so both kinds answer alike.
"""

from typing import Any

import orjson

from parley.api import codec
from parley.domain import channels, members, messages
from parley.events import Event
from parley.store import Row, Tx
from parley.sync import names, projection, store

LIST_COUNTER = "messages_event_id"
DOCUMENT_COUNTER = "document_event_id"
_SENT = frozenset({"onMessageSent", "onMediaMessageSent"})
_UPDATED = "onMessageUpdated"
# domain events after which the channel document has a new revision
_DOCUMENT_MOVES = _SENT | {"onMessageRemoved", "onChannelAdded", "onChannelUpdated"}


def derived(obj: Row) -> tuple[str, str] | None:
    """(channel SID, counter column) of a derived object; None for a stored one."""
    kind, name = obj["type"], obj["unique_name"]
    if kind == "list":
        channel_sid = names.channel_of_messages(name)
        return None if channel_sid is None else (channel_sid, LIST_COUNTER)
    if kind == "document":
        channel_sid = names.channel_of_doc(name)
        return None if channel_sid is None else (channel_sid, DOCUMENT_COUNTER)
    return None


async def _document_text(tx: Tx, channel: Row, last: Row | None = None) -> str:
    """The document's data; ``last``: its last message, when the caller knows it."""
    if last is None:
        last = await messages.last(tx, channel["sid"])
    return orjson.dumps(projection.channel_data(channel, last)).decode()


async def _as_now(tx: Tx, obj: Row, channel: Row | None) -> Row:
    """A derived object with its last event id (and a document's data) from the channel."""
    if channel is None:  # removed in this very moment: what was stored
        return obj
    found = derived(obj)
    assert found is not None
    now = {**obj, "last_event_id": int(channel[found[1]])}
    if obj["type"] == "document":
        now["data"] = await _document_text(tx, channel)
    return now


async def find(tx: Tx, service_sid: str, kind: str, ident: str) -> Row | None:
    """An object by SID or unique name, as it is now."""
    obj = await store.find(tx, service_sid, kind, ident)
    if obj is None:
        channel_sid = store.stand_in_channel(kind, ident)
        channel = None if channel_sid is None else await channels.by_sid(tx, channel_sid)
        if channel is None or channel["service_sid"] != service_sid:
            return None
        obj = store.stand_in(kind, dict(channel))  # type: ignore[arg-type]
        return await _as_now(tx, obj, dict(channel))
    found = derived(obj)
    if found is None:
        return obj
    channel = await channels.by_sid(tx, found[0])
    return await _as_now(tx, obj, None if channel is None else dict(channel))


async def last_event_ids(tx: Tx, object_sids: list[str]) -> dict[str, int]:
    """Each existing object's last event id (a removed one is missing)."""
    rows = await store.with_sids(tx, object_sids)
    out = {row["sid"]: int(row["last_event_id"]) for row in rows}
    counted = {row["sid"]: found for row in rows if (found := derived(row)) is not None}
    for sid in set(object_sids) - set(out):  # stand-ins (store.stand_in), or removed
        for kind, counter in (("list", LIST_COUNTER), ("document", DOCUMENT_COUNTER)):
            channel_sid = store.stand_in_channel(kind, sid)
            if channel_sid is not None:
                counted[sid] = (channel_sid, counter)
    if counted:
        known = await channels.among(tx, sorted({c for c, _ in counted.values()}))
        for sid, (channel_sid, counter) in counted.items():
            channel = known.get(channel_sid)
            if channel is not None:
                out[sid] = int(channel[counter])
    return out


# ---------------------------------------------------------------- items


def _item(message: Row, member_sid: str | None) -> Row:
    """A message as a messages-list item row (the shape ``store.render_item`` reads)."""
    data = projection.message_data(message, member_sid, messages.media_of(message))
    return {
        "item_key": str(message["idx"]),
        "item_index": message["idx"],
        "data": orjson.dumps(data).decode(),
        "last_event_id": message["list_revision"],
        "date_created": message["date_created"],
        "date_updated": message["date_updated"] or message["date_created"],
    }


async def _items(tx: Tx, channel_sid: str, rows: list[Row]) -> list[Row]:
    authors = [r["author"] for r in rows if r.get("author")]
    member_sids = await members.sids_of(tx, channel_sid, authors)
    return [_item(r, member_sids.get(r.get("author") or "")) for r in rows]


async def get_item(tx: Tx, obj: Row, key: str) -> Row | None:
    found = derived(obj)
    if found is None:
        return await store.get_item(tx, obj, key)
    index = codec.integer(key)
    if index is None or not 0 <= index <= codec.POSITION_MAX:
        return None  # no message has it (and nothing out of range reaches the store)
    message = await messages.at_index(tx, found[0], index)
    return None if message is None else (await _items(tx, found[0], [message]))[0]


async def items_page(
    tx: Tx,
    obj: Row,
    *,
    start: str | int | None,
    descending: bool,
    limit: int,
    inclusive: bool = True,
) -> tuple[list[Row], bool, bool]:
    """A page from ``start`` (``store.items_page``'s contract)."""
    found = derived(obj)
    if found is None:
        return await store.items_page(
            tx, obj, start=start, descending=descending, limit=limit, inclusive=inclusive
        )
    channel_sid = found[0]
    after: int | None = None
    if start is not None:
        after = int(start)
        if inclusive:
            after += 1 if descending else -1
    rows = await messages.page_by_index(
        tx, channel_sid, descending=descending, after=after, limit=limit + 1
    )
    more_after = len(rows) > limit
    rows = rows[:limit]
    more_before = False
    if rows and start is not None:
        more_before = await messages.any_beyond(tx, channel_sid, rows[0]["idx"], descending)
    return await _items(tx, channel_sid, rows), more_before, more_after


# ---------------------------------------------------------------- events


def _event_row(obj_sid: str, event_id: int, event_type: str, body: dict[str, Any]) -> Row:
    """A derived event in the stored event's shape (``store.render_event`` reads it)."""
    return {
        "object_sid": obj_sid,
        "event_id": event_id,
        "cause_seq": 0,
        "event_type": event_type,
        "event": orjson.dumps({**body, "id": event_id}).decode(),
    }


def _list_event(list_sid: str, item: Row, added: bool) -> Row:
    body = {
        "list_sid": list_sid,
        "item_data": orjson.loads(item["data"]),
        "item_index": item["item_index"],
        "date_created": store.iso(item["date_updated"]),
    }
    verb = "added" if added else "updated"
    return _event_row(list_sid, int(item["last_event_id"]), f"list_item_{verb}", body)


async def _document_event(
    tx: Tx, doc_sid: str, channel: Row, revision: int | None = None, last: Row | None = None
) -> Row:
    """The document's ``document_updated``: at ``revision`` (a change's own,
    with ``last`` its last message when the change made it), else as it is now."""
    body = {
        "document_sid": doc_sid,
        "document_data": orjson.loads(await _document_text(tx, channel, last)),
        "date_created": store.iso(channel.get("date_updated") or channel["date_created"]),
    }
    event_id = int(channel[DOCUMENT_COUNTER]) if revision is None else revision
    return _event_row(doc_sid, event_id, "document_updated", body)


def _merged(stored: list[Row], made: list[Row], limit: int) -> list[Row]:
    """Two event-id-ordered lists of at most ``limit`` each: their first ``limit``."""
    return sorted(stored + made, key=lambda r: int(r["event_id"]))[:limit]


async def events_after(
    tx: Tx, obj: Row, after: int, limit: int = 500, since: int | None = None
) -> list[Row]:
    """The object's events after ``after``, in event-id order (a replay, read
    in pages: ``since`` is where the replay began, ``after`` where this page
    does). A derived list's item is added when it was added after ``since``:
    the client has not seen it, on this page or before."""
    since = after if since is None else since
    stored = await store.events_after(tx, obj["sid"], after, limit)
    found = derived(obj)
    if found is None:
        return stored
    channel_sid, counter = found
    if counter == LIST_COUNTER:
        channel = await channels.by_sid(tx, channel_sid)
        if channel is None:
            return stored
        # the list's events take one id each, a message's addition among them
        # in index order, so message i was added at event i + 1 + (the other
        # events before it) at most: none below this index was added after
        others = channel["messages_event_id"] - channel["next_message_index"]
        first_idx = max(0, after - others)
        rows = await messages.revised_after(tx, channel_sid, after, limit, first_idx=first_idx)
        items = await _items(tx, channel_sid, rows)
        made = [
            _list_event(obj["sid"], item, row["list_added"] > since)
            for row, item in zip(rows, items, strict=True)
        ]
        return _merged(stored, made, limit)
    current = await channels.by_sid(tx, channel_sid)
    if current is None or current["document_event_id"] <= after:
        return stored
    return _merged(stored, [await _document_event(tx, obj["sid"], dict(current))], limit)


async def events_caused_by(tx: Tx, events: list[Event]) -> list[Row]:
    """The Sync events of committed domain events, ordered by object and event id:
    the stored ones by their cause, the derived ones from the events' rows
    (a message's item as the event carries it; a document at the revision its
    change took, with the channel as it is now)."""
    stored = await store.events_caused_by(tx, [e.seq for e in events if e.seq])
    by_service: dict[str, set[str]] = {}
    for event in events:
        if (
            event.service_sid
            and event.channel_sid
            and (event.kind in _DOCUMENT_MOVES or event.kind == _UPDATED)
        ):
            by_service.setdefault(event.service_sid, set()).add(event.channel_sid)
    if not by_service:
        return stored
    objects: dict[str, Row] = {}  # by unique name
    for service_sid, channel_sids in by_service.items():
        wanted = [n for c in channel_sids for n in (names.messages(c), names.channel_doc(c))]
        objects.update(await store.find_named(tx, service_sid, wanted))
    current = await channels.among(tx, sorted({c for cs in by_service.values() for c in cs}))
    for known in current.values():  # objects without a row: their stand-ins
        if names.messages(known["sid"]) not in objects:
            objects[names.messages(known["sid"])] = store.stand_in("list", known)
        if names.channel_doc(known["sid"]) not in objects:
            objects[names.channel_doc(known["sid"])] = store.stand_in("document", known)
    made: list[Row] = []
    items: dict[str, list[tuple[Row, bool]]] = {}  # by channel: (message, added)
    # by channel: (the change's document revision, or None: as now; its last message)
    documents: dict[str, list[tuple[int | None, Row | None]]] = {}
    for event in events:
        if event.channel_sid is None:
            continue
        if event.kind in _SENT or event.kind == _UPDATED:
            changes = items.setdefault(event.channel_sid, [])
            changes.append((event.payload, event.kind in _SENT))
        if event.kind in _DOCUMENT_MOVES:
            # one event per change, as the change left the document: its
            # revision came with the event (a channel event's row holds it)
            revision = event.revisions.get(DOCUMENT_COUNTER, event.payload.get(DOCUMENT_COUNTER))
            last = event.payload if event.kind in _SENT else None
            documents.setdefault(event.channel_sid, []).append((revision, last))
    for on, changed in items.items():
        list_obj = objects.get(names.messages(on))
        if list_obj is None:
            continue
        rows = await _items(tx, on, [message for message, _ in changed])
        for item, (_, added) in zip(rows, changed, strict=True):
            made.append(_list_event(list_obj["sid"], item, added))
    for on, moves in sorted(documents.items()):
        doc, channel = objects.get(names.channel_doc(on)), current.get(on)
        if doc is None or channel is None:
            continue
        for revision, last in moves:
            made.append(await _document_event(tx, doc["sid"], channel, revision, last))
    return sorted(stored + made, key=lambda r: (r["object_sid"], int(r["event_id"])))
