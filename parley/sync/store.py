"""Stored Sync objects, items and their event log (SQL through ``parley.store.repo``).

A channel's messages list and document are derived from the rows instead
(``view.py``, docs/decisions.md §45): here they keep only their object row and
the events no row can give (removals, recorded under ids their channel took).

Every change takes the object's next event id with ``repo.take`` (row lock,
so ids are gap-free per object) and stores the event body it produces. Event
bodies carry no URLs: ``render`` adds them with the public base URL.
"""

from typing import Any, Literal

import orjson

from parley import sids, timefmt
from parley.errors import TwilioError
from parley.store import Row, Tx, repo
from parley.sync import names

Kind = Literal["map", "list", "document"]
PREFIX: dict[str, str] = {
    "map": sids.SYNC_MAP,
    "list": sids.SYNC_LIST,
    "document": sids.SYNC_DOCUMENT,
}
PLURAL = {"map": "Maps", "list": "Lists", "document": "Documents"}
# Twilio Sync "not found" codes (twilio-sync@3.4.0 syncdocument.ts:265, syncmap.ts:171,
# synclist.ts:228; 54150/54200 by the family's pattern)
NOT_FOUND = {"document": 54100, "list": 54150, "map": 54200}
ITEM_NOT_FOUND = {"list": 54151, "map": 54201}


def iso(value: int | None) -> str | None:
    return timefmt.to_webhook(value)


async def find(tx: Tx, service_sid: str, kind: str, ident: str) -> Row | None:
    """An object by SID or unique name."""
    if sids.looks_like(PREFIX[kind], ident):
        row = await repo.get(tx, "sync_objects", {"sid": sids.normalise(ident)})
        return row if row and row["service_sid"] == service_sid and row["type"] == kind else None
    return await repo.get(
        tx, "sync_objects", {"service_sid": service_sid, "type": kind, "unique_name": ident}
    )


def stand_in(kind: Kind, channel: Row) -> Row:
    """A channel's document or messages list that has no stored row (a
    channel stored without events, before a rebuild): both are derived from
    the rows (docs/decisions.md §45), so they exist with their channel, under
    a SID made from the channel's."""
    sid = PREFIX[kind] + channel["sid"][2:]
    doc = kind == "document"
    name = names.channel_doc if doc else names.messages
    acl = (
        names.doc_acl(channel["sid"], channel["type"]) if doc else names.channel_acl(channel["sid"])
    )
    return {
        "sid": sid,
        "account_sid": channel["account_sid"],
        "service_sid": channel["service_sid"],
        "type": kind,
        "unique_name": name(channel["sid"]),
        "acl": acl,
        "last_event_id": 0,
        "data": None,
        "date_created": channel["date_created"],
        "date_updated": channel.get("date_updated") or channel["date_created"],
    }


def stand_in_channel(kind: str, ident: str) -> str | None:
    """The channel whose stand-in (``stand_in``) document or list ``ident``
    names, by SID or unique name; None when it names no channel's."""
    if kind == "list" and sids.looks_like(PREFIX["list"], ident):
        return sids.CHANNEL + sids.normalise(ident)[2:]
    if kind == "document" and sids.looks_like(PREFIX["document"], ident):
        return sids.CHANNEL + sids.normalise(ident)[2:]
    if kind == "list":
        return names.channel_of_messages(ident)
    if kind == "document":
        return names.channel_of_doc(ident)
    return None


_UNKNOWN: Any = object()  # ensure(): not looked up yet


async def find_named(tx: Tx, service_sid: str, names: list[str]) -> dict[str, Row]:
    """Several objects of a service by unique name, in one query."""
    marks, bound = repo.in_list(names, "n")
    rows = await tx.all(
        f"SELECT * FROM sync_objects WHERE service_sid = :s AND unique_name IN ({marks})",
        {"s": service_sid, **bound},
    )
    return {row["unique_name"]: row for row in rows}


async def ensure(
    tx: Tx,
    account_sid: str,
    service_sid: str,
    kind: Kind,
    name: str,
    acl: str,
    data: Any = None,
    found: Any = _UNKNOWN,
) -> Row:
    """The object of that name, created empty (no event) if missing.
    ``found``: the caller already looked it up (see ``find_named``)."""
    if found is _UNKNOWN:
        found = await find(tx, service_sid, kind, name)
    if isinstance(found, dict) and found["type"] == kind:
        if found["acl"] != acl:
            await repo.update(tx, "sync_objects", {"sid": found["sid"]}, {"acl": acl})
            found["acl"] = acl
        return found
    return await create(tx, account_sid, service_sid, kind, acl, name, data)


async def create(
    tx: Tx,
    account_sid: str,
    service_sid: str,
    kind: Kind,
    acl: str,
    name: str | None = None,
    data: Any = None,
) -> Row:
    """A new empty object (no event). Without a unique name its SID stands in
    for one (the column is unique per service) and none is rendered."""
    now = timefmt.now()
    sid = sids.new_sid(PREFIX[kind])
    row: Row = {
        "sid": sid,
        "account_sid": account_sid,
        "service_sid": service_sid,
        "type": kind,
        "unique_name": sid if name is None else name,
        "acl": acl,
        "last_event_id": 0,
        "data": orjson.dumps(data if data is not None else {}).decode(),
        "date_created": now,
        "date_updated": now,
    }
    await repo.insert(tx, "sync_objects", row)
    return row


async def with_sids(tx: Tx, object_sids: list[str]) -> list[Row]:
    """The stored objects of these SIDs (one query per 500)."""
    found: list[Row] = []
    for start in range(0, len(object_sids), 500):
        marks, bound = repo.in_list(object_sids[start : start + 500], "s")
        found += await tx.all(f"SELECT * FROM sync_objects WHERE sid IN ({marks})", bound)
    return found


async def record_event(
    tx: Tx, obj: Row, event_id: int, cause: int, event_type: str, body: dict[str, Any]
) -> None:
    """Record an event whose id the caller took elsewhere (a derived object's
    counter on its channel row, docs/decisions.md §45)."""
    await _next_event(tx, obj, cause, event_type, body, timefmt.now(), taken_id=event_id)


async def _next_event(
    tx: Tx,
    obj: Row,
    cause: int,
    event_type: str,
    body: dict[str, Any],
    now: int,
    also: dict[str, Any] | None = None,
    taken_id: int | None = None,
) -> int:
    """Take the object's next event id (unless ``taken_id``: the id, taken
    elsewhere) and record the event."""
    if taken_id is not None:
        event_id = taken_id
    else:
        # the event id, date_updated and ``also`` (e.g. a document's new data)
        # in one statement (repo.take's changes)
        where = {"sid": obj["sid"]}
        changes = {"date_updated": now, **(also or {})}
        event_id = await repo.take(tx, "sync_objects", where, "last_event_id", changes=changes)
        event_id += 1
        obj["last_event_id"] = event_id
        obj["date_updated"] = now
    event = {**body, "id": event_id, "date_created": iso(now)}
    await repo.insert_later(
        tx,
        "sync_events",
        {
            "object_sid": obj["sid"],
            "event_id": event_id,
            "cause_seq": cause,
            "event_type": event_type,
            "event": orjson.dumps(event).decode(),
            "date_created": now,
        },
    )
    return event_id


def _sid_field(obj: Row) -> str:
    return f"{obj['type']}_sid"


async def get_item(tx: Tx, obj: Row, key: str) -> Row | None:
    return await repo.get(tx, "sync_items", {"object_sid": obj["sid"], "item_key": key})


async def put_item(
    tx: Tx,
    obj: Row,
    key: str | int,
    data: dict[str, Any],
    cause: int,
    *,
    new: bool = False,
) -> int | None:
    """Add or replace a map item (``key``) or list item (``index``); returns the
    event id, or None when the stored data is already exactly that. ``new``:
    the caller knows the key is unused (a session list's new command), so it
    is not looked up."""
    kind = obj["type"]
    item_key = str(key)
    index = int(key) if kind == "list" else 0
    now = timefmt.now()
    text = orjson.dumps(data).decode()
    existing = None if new else await get_item(tx, obj, item_key)
    if existing is not None and existing["data"] == text:
        return None
    added = existing is None
    body: dict[str, Any] = {_sid_field(obj): obj["sid"], "item_data": data}
    if kind == "list":
        body["item_index"] = index
    else:
        body["item_key"] = item_key
    verb = "added" if added else "updated"
    event_id = await _next_event(tx, obj, cause, f"{kind}_item_{verb}", body, now)
    if added:
        await repo.insert_later(
            tx,
            "sync_items",
            {
                "object_sid": obj["sid"],
                "item_key": item_key,
                "item_index": index,
                "data": text,
                "last_event_id": event_id,
                "date_created": now,
                "date_updated": now,
            },
        )
    else:
        await repo.update(
            tx,
            "sync_items",
            {"object_sid": obj["sid"], "item_key": item_key},
            {"data": text, "last_event_id": event_id, "date_updated": now},
        )
    return event_id


async def remove_item(tx: Tx, obj: Row, key: str | int, cause: int) -> int | None:
    kind = obj["type"]
    existing = await get_item(tx, obj, str(key))
    if existing is None:
        return None
    body: dict[str, Any] = {
        _sid_field(obj): obj["sid"],
        "item_data": orjson.loads(existing["data"]),
    }
    if kind == "list":
        body["item_index"] = int(key)
    else:
        body["item_key"] = str(key)
    event_id = await _next_event(tx, obj, cause, f"{kind}_item_removed", body, timefmt.now())
    await repo.delete(tx, "sync_items", {"object_sid": obj["sid"], "item_key": str(key)})
    return event_id


async def set_context(tx: Tx, obj: Row, data: dict[str, Any], cause: int) -> int | None:
    """A list's context (``list_context_updated``; twilio-sync synclist.ts
    reads ``context_data``), kept in the object's ``data`` as a document's is."""
    return await _set_data(tx, obj, data, cause, "list_context_updated", "context_data")


async def _set_data(
    tx: Tx, obj: Row, data: dict[str, Any], cause: int, event_type: str, field: str
) -> int | None:
    text = orjson.dumps(data).decode()
    if obj["data"] == text:
        return None
    body = {_sid_field(obj): obj["sid"], field: data}
    now = timefmt.now()
    event_id = await _next_event(tx, obj, cause, event_type, body, now, {"data": text})
    obj["data"] = text
    return event_id


def context(obj: Row) -> dict[str, Any]:
    """``GET /v3/Lists/{id}/Context``: the current context, as of event 0.
    twilio-sync keeps a fetched context and drops every context event not
    newer than it; the chat SDK reads its session only from such an event
    (docs/realtime-protocol.md §9.3), so the answer must leave the replay's
    context events newer."""
    return {"data": orjson.loads(obj["data"] or "{}"), "last_event_id": 0}


async def remove_object(tx: Tx, obj: Row, cause: int, last_event_id: int | None = None) -> None:
    """``{map,list,document}_removed`` is the object's last event; its items go.
    ``last_event_id``: a derived object's, from its channel row (the stored
    counter is not kept, docs/decisions.md §45)."""
    kind = obj["type"]
    body = {_sid_field(obj): obj["sid"]}
    taken_id = None if last_event_id is None else last_event_id + 1
    await _next_event(tx, obj, cause, f"{kind}_removed", body, timefmt.now(), taken_id=taken_id)
    await repo.delete(tx, "sync_items", {"object_sid": obj["sid"]})
    await repo.delete(tx, "sync_objects", {"sid": obj["sid"]})


async def of_account(tx: Tx, account_sid: str) -> list[Row]:
    return await repo.select(tx, "sync_objects", {"account_sid": account_sid})


async def of_service(tx: Tx, service_sid: str) -> list[Row]:
    return await repo.select(tx, "sync_objects", {"service_sid": service_sid})


async def accounts(tx: Tx) -> list[str]:
    """Every account with a stored object."""
    rows = await tx.all("SELECT DISTINCT account_sid FROM sync_objects", {})
    return [r["account_sid"] for r in rows]


async def item_keys(tx: Tx, obj: Row) -> list[str]:
    rows = await tx.all("SELECT item_key FROM sync_items WHERE object_sid = :o", {"o": obj["sid"]})
    return [r["item_key"] for r in rows]


async def maps_holding(tx: Tx, service_sid: str, key: str) -> list[Row]:
    """The service's maps that hold an item of this key."""
    return await tx.all(
        "SELECT o.* FROM sync_items i JOIN sync_objects o ON o.sid = i.object_sid "
        "WHERE i.item_key = :k AND o.service_sid = :s AND o.type = 'map'",
        {"k": key, "s": service_sid},
    )


async def events_after(tx: Tx, object_sid: str, after: int, limit: int = 500) -> list[Row]:
    return await tx.all(
        "SELECT * FROM sync_events WHERE object_sid = :o AND event_id > :a "
        "ORDER BY event_id LIMIT :n",
        {"o": object_sid, "a": after, "n": limit},
    )


async def events_caused_by(tx: Tx, seqs: list[int]) -> list[Row]:
    if not seqs:
        return []
    marks, bound = repo.in_list(seqs, "s")
    return await tx.all(
        f"SELECT * FROM sync_events WHERE cause_seq IN ({marks}) ORDER BY object_sid, event_id",
        bound,
    )


def url(base: str, obj_type: str, sid: str, key: str | None = None) -> str:
    path = f"{base}/v3/{PLURAL[obj_type]}/{sid}"
    return path if key is None else f"{path}/Items/{key}"


def render_event(base: str, row: Row) -> dict[str, Any]:
    """A stored event as the client receives it (URLs and revisions added)."""
    event: dict[str, Any] = orjson.loads(row["event"])
    kind = row["event_type"].split("_", 1)[0]
    sid = row["object_sid"]
    revision = str(row["event_id"])
    if "item_data" in event:
        key = str(event.get("item_key", event.get("item_index")))
        event["item_url"] = url(base, kind, sid, key)
        event["item_revision"] = revision
    if kind == "document":
        event["document_revision"] = revision
    else:
        event[f"{kind}_revision"] = revision
    return event


def render_object(base: str, obj: Row) -> dict[str, Any]:
    kind = obj["type"]
    out: dict[str, Any] = {
        "sid": obj["sid"],
        "unique_name": None if obj["unique_name"] == obj["sid"] else obj["unique_name"],
        "url": url(base, kind, obj["sid"]),
        "revision": str(obj["last_event_id"]),
        "last_event_id": obj["last_event_id"],
        "date_created": iso(obj["date_created"]),
        "date_updated": iso(obj["date_updated"]),
        "date_expires": None,
        "created_by": "system",
    }
    if kind == "document":
        out["data"] = orjson.loads(obj["data"] or "{}")
        out["links"] = {}
    else:
        out["links"] = {
            "items": url(base, kind, obj["sid"]) + "/Items",
            "context": url(base, kind, obj["sid"]) + "/Context",
        }
    return out


def render_item(base: str, obj: Row, item: Row) -> dict[str, Any]:
    kind = obj["type"]
    out: dict[str, Any] = {
        "data": orjson.loads(item["data"]),
        "revision": str(item["last_event_id"]),
        "last_event_id": item["last_event_id"],
        "url": url(base, kind, obj["sid"], item["item_key"]),
        "date_created": iso(item["date_created"]),
        "date_updated": iso(item["date_updated"]),
        "date_expires": None,
        "created_by": "system",
    }
    if kind == "list":
        out["index"] = item["item_index"]
    else:
        out["key"] = item["item_key"]
    return out


async def items_page(
    tx: Tx,
    obj: Row,
    *,
    start: str | int | None,
    descending: bool,
    limit: int,
    inclusive: bool = True,
) -> tuple[list[Row], bool, bool]:
    """A page from ``start`` (inclusive, the SDK's ``From``) in key/index order;
    returns (items, more before, more after) in page order."""
    column = "item_index" if obj["type"] == "list" else "item_key"
    op = ("<=" if inclusive else "<") if descending else (">=" if inclusive else ">")
    params: dict[str, Any] = {"o": obj["sid"], "n": limit + 1}
    cond = ""
    if start is not None:
        cond = f" AND {column} {op} :f"
        params["f"] = int(start) if obj["type"] == "list" else str(start)
    order = "DESC" if descending else "ASC"
    rows = await tx.all(
        f"SELECT * FROM sync_items WHERE object_sid = :o{cond} ORDER BY {column} {order} LIMIT :n",
        params,
    )
    more_after = len(rows) > limit
    rows = rows[:limit]
    more_before = False
    if rows and start is not None:
        back = ">" if descending else "<"
        first = rows[0][column]
        before = await tx.one(
            f"SELECT 1 AS x FROM sync_items WHERE object_sid = :o AND {column} {back} :f LIMIT 1",
            {"o": obj["sid"], "f": first},
        )
        more_before = before is not None
    return rows, more_before, more_after


def not_found(kind: str, ident: str) -> TwilioError:
    return TwilioError(NOT_FOUND[kind], kind=kind.capitalize(), ident=ident)


def item_not_found(kind: str, key: str) -> TwilioError:
    return TwilioError(ITEM_NOT_FOUND[kind], kind=kind.capitalize(), ident=key)
