"""Tunnelled Sync REST: objects, items pages and subscriptions (docs/realtime-protocol.md §6-§7).

::

    GET /v3/{Maps,Lists,Documents}/{sid|unique name}[?Include=items]
    GET /v3/{Maps,Lists}/{id}/Items[?Key|Index|PageToken|From&Order&PageSize]
    GET /v3/Maps/{id}/Items/{key}, /v3/Lists/{id}/Items/{index}
    POST /v4/Subscriptions {action: establish|cancel, correlation_id, requests[]}
         -> 202, then (replay + subscription_established) per object, pushed
"""

import asyncio
from typing import Any

from parley.api import codec
from parley.errors import TwilioError
from parley.realtime.subscriptions import ESTIMATED_DELIVERY_MS, subscriptions
from parley.realtime.tunnel import Request, Response, Routes
from parley.store import Row, Store
from parley.sync import access, store, view

PAGE_SIZE = 50
PAGE_MAX = 100  # Sync's maximum page size (twilio-sync syncmap.ts:350)
BATCH_MAX = 100  # subscription requests in one batch (the max_batch_size we announce)
BATCHES_MAX = 8  # batches one socket may have in progress


def _store(request: Request) -> Store:
    return request.runtime.store


def _base(request: Request) -> str:
    return request.runtime.base_url


async def _object(request: Request, kind: str, store_: Store) -> Row:
    grant = request.session.grant
    assert grant is not None
    ident = request.path_params["id"]
    async with store_.read() as tx:
        obj = await view.find(tx, grant.service_sid, kind, ident)
        if obj is None:
            raise store.not_found(kind, ident)
        if not await access.readable(tx, obj, grant.service_sid, grant.identity):
            raise TwilioError(54007, identity=grant.identity)
    return obj


def _object_handler(kind: str) -> Any:
    async def handle(request: Request) -> Response:
        store_ = _store(request)
        obj = await _object(request, kind, store_)
        body = store.render_object(_base(request), obj)
        if kind != "document" and request.params.get("Include") == "items":
            async with store_.read() as tx:
                rows, _, _ = await view.items_page(
                    tx, obj, start=None, descending=False, limit=PAGE_MAX
                )
            body["items"] = [store.render_item(_base(request), obj, r) for r in rows]
        return Response(200, body)

    return handle


def _token(start: int | str, descending: bool) -> str:
    """REST's page token (api/codec.py): ``PA`` pages on ascending, ``PB``
    descending, from ``start`` (not included)."""
    return codec.make_token("B" if descending else "A", start)


def _untoken(token: str, kind: str) -> tuple[Any, bool]:
    # a list pages on an index, a map on a key (text): nothing else reaches
    # the store (docs/security.md, "Bad input")
    direction, start = codec.read_token(token, text=kind != "list")
    return start, direction == "B"


def _position(value: Any) -> int | None:
    if isinstance(value, str):
        value = codec.integer(value)
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    return value if abs(value) <= codec.POSITION_MAX else None


def _page_size(params: dict[str, str]) -> int:
    text = params.get("PageSize")
    if text is None:
        return PAGE_SIZE
    if not text.isdigit() or not 1 <= int(text) <= 1000:
        raise TwilioError(20001, name="PageSize")
    return min(int(text), PAGE_MAX)


def _items_handler(kind: str) -> Any:
    single = "Index" if kind == "list" else "Key"

    async def handle(request: Request) -> Response:
        store_ = _store(request)
        obj = await _object(request, kind, store_)
        params = request.params
        base = _base(request)
        async with store_.read() as tx:
            if single in params:
                item = await view.get_item(tx, obj, params[single])
                rows = [item] if item else []
                return Response(200, _page(base, obj, rows, None, None))
            size = _page_size(params)
            inclusive = True
            if "PageToken" in params:
                start, descending = _untoken(params["PageToken"], kind)
                inclusive = False
            else:
                order = params.get("Order", "asc")
                if order not in ("asc", "desc"):
                    raise TwilioError(20001, name="Order")
                descending = order == "desc"
                start = params.get("From")
                if start is not None and kind == "list":
                    start = _position(start)
                    if start is None:
                        raise TwilioError(20001, name="From")
            rows, before, after = await view.items_page(
                tx, obj, start=start, descending=descending, limit=size, inclusive=inclusive
            )
        column = "item_index" if kind == "list" else "item_key"
        next_token = _token(rows[-1][column], descending) if rows and after else None
        prev_token = _token(rows[0][column], not descending) if rows and before else None
        return Response(200, _page(base, obj, rows, prev_token, next_token))

    return handle


def _page(base: str, obj: Row, rows: list[Row], prev: str | None, nxt: str | None) -> Any:
    return {
        "items": [store.render_item(base, obj, r) for r in rows],
        "meta": {"previous_token": prev, "next_token": nxt},
    }


def _item_handler(kind: str) -> Any:
    async def handle(request: Request) -> Response:
        store_ = _store(request)
        obj = await _object(request, kind, store_)
        key = request.path_params["key"]
        async with store_.read() as tx:
            item = await view.get_item(tx, obj, key)
        if item is None:
            raise store.item_not_found(kind, key)
        return Response(200, store.render_item(_base(request), obj, item))

    return handle


async def subscribe(request: Request) -> Response:
    """202 at once; the replay and ``subscription_established`` follow as
    notifications (twilio-sync subscriptions.ts: events may arrive before the reply)."""
    body = request.body
    if not isinstance(body, dict) or body.get("action") not in ("establish", "cancel"):
        raise TwilioError(54008, detail="action must be establish or cancel")
    requests = body.get("requests")
    if not isinstance(requests, list):
        raise TwilioError(54008, detail="requests must be a list")
    # docs/security.md, "Real-time connections": what one socket may ask at once
    if len(requests) > BATCH_MAX:
        raise TwilioError(54008, detail=f"at most {BATCH_MAX} requests in one batch")
    hub = subscriptions(request.session, request.runtime)
    if len(hub.tasks) >= BATCHES_MAX:
        raise TwilioError(20429, message=f"Too Many Requests: {BATCHES_MAX} batches in progress")
    task = asyncio.create_task(
        hub.apply(
            str(body["action"]),
            body.get("correlation_id"),
            body.get("event_protocol_version", 3),
            [r for r in requests if isinstance(r, dict)],
        )
    )
    hub.tasks.add(task)
    task.add_done_callback(hub.tasks.discard)
    ttl = body.get("ttl_in_s", -1)
    answer = {"estimated_delivery_in_ms": ESTIMATED_DELIVERY_MS, "max_batch_size": BATCH_MAX}
    return Response(202, {**answer, "ttl_in_s": ttl})


def register(routes: Routes) -> None:
    for kind, plural in store.PLURAL.items():
        routes.add("GET", f"/v3/{plural}/{{id}}", _object_handler(kind))
        if kind != "document":
            routes.add("GET", f"/v3/{plural}/{{id}}/Items", _items_handler(kind))
            routes.add("GET", f"/v3/{plural}/{{id}}/Items/{{key}}", _item_handler(kind))
    routes.add("POST", "/v4/Subscriptions", subscribe)
