"""The session list of a twilio-chat 2.x-4.x client (docs/realtime-protocol.md
§9.3-9.4, §9.7): created with its context, read for its context, and
appended to with commands, each answered in the same list item.

::

    POST /v3/Lists {purpose, context}   write tx: Sync list (ACL the caller) +
                                        session_lists row + context as event 1 -> 201
    POST /v3/Lists/{id}/Items {data}    known commandId -> its stored item
                                        else commands.plan -> Actions.perform each:
                                          the last call's write tx also holds the item
                                          (list_item_added) and its response
                                          (list_item_updated)
                                        refused -> item + error response, own tx
                                        -> the caller's own Sync events (by the action),
                                           then the list's two events, then the reply

Their rows are read and written through ``lists.py``, their owner.
"""

import asyncio
import contextlib
import logging
from typing import Any

import orjson

from parley import timefmt
from parley.domain import services, users
from parley.errors import TwilioError
from parley.realtime.chat.actions import Actions
from parley.realtime.chat.context import Ctx
from parley.realtime.gateway import REFUSALS
from parley.realtime.subscriptions import subscriptions
from parley.realtime.tunnel import Request, Response, Routes
from parley.realtime.v2 import commands, lists
from parley.realtime.v2.dispatch import base, part
from parley.sids import AccountSid, ServiceSid
from parley.store import Row, Store, Tx
from parley.sync import access, names, projection
from parley.sync import store as sync_store

log = logging.getLogger("parley.realtime")

PURPOSE = "com.twilio.rtd.ipmsg"
CAUSE = 0  # session-list events have no domain event behind them
COMMAND_ID_MAX = 128
ITEM_MAX = 128 * 1024  # bytes of one command's JSON (a 32 KiB body + 16 KiB attributes fit)
# §9.3: a session list ends a day after its last command (µs, as timefmt)
LIFETIME = 24 * 3600 * 1_000_000
USER_INFOS_TO_SUBSCRIBE = 100
# session lists one identity keeps; a new one beyond it ends the least recently
# used (docs/security.md, "Real-time connections")
SESSIONS_MAX = 50


# ---------------------------------------------------------------- context


def media_service_url(public_url: str, service_sid: str) -> str:
    """What the 2.x-4.x media client appends to ``https://mcs.us1.twilio.com``
    (§9.6): behind HTTPS, ``@host`` + path, so the URL's host is Parley's
    (the Twilio host becomes a user name, which Parley ignores); without
    HTTPS the path alone (sending media is then not available to these SDKs)."""
    path = f"/v1/Services/{service_sid}/Media"
    scheme, _, rest = public_url.partition("://")
    if scheme != "https" or not rest:
        return path
    host, _, prefix = rest.partition("/")
    return f"@{host}{'/' + prefix.rstrip('/') if prefix else ''}{path}"


def session_context(ctx: Ctx, service: services.Service, user: users.UserRow) -> dict[str, Any]:
    """The context of §9.3 (the SDK waits for identity, userInfo, links,
    myChannels and channels)."""
    b = base(ctx.service_sid)
    me = f"{b}/Users/{part(ctx.identity)}"
    interval = int(service.get("consumption_report_interval") or 10)
    return {
        "identity": ctx.identity,
        "userInfo": names.user_info(user["sid"]),
        "myChannels": names.user_channels(user["sid"]),
        "channels": names.user_channels(user["sid"]),
        "links": {
            "publicChannelsUrl": f"{b}/Channels",
            "myChannelsUrl": f"{me}/Channels",
            "syncListUrl": f"{me}/ChannelsSync",
            "usersUrl": f"{b}/Users",
            "typingUrl": "/v1/typing",
            "mediaServiceUrl": media_service_url(ctx.runtime.base_url, ctx.service_sid),
        },
        "reachabilityEnabled": bool(service.get("reachability_enabled")),
        "consumptionReportInterval": f"PT{interval}S",
        "httpCacheInterval": "PT1S",
        "userInfosToSubscribe": USER_INFOS_TO_SUBSCRIBE,
    }


# ---------------------------------------------------------------- create, read


async def create(request: Request) -> Response:
    """``POST /v3/Lists``: only the session list is created by clients."""
    ctx = Ctx.of(request)
    body = request.body if isinstance(request.body, dict) else {}
    if body.get("purpose") != PURPOSE:
        raise TwilioError(54008, detail=f"clients create only session lists (purpose {PURPOSE})")
    async with ctx.store.write() as tx:
        service = await ctx.service(tx)
        user = await ctx.user(tx)
        await projection.user_maps(tx, user)  # users stored before the Sync view
        await _make_room(tx, ctx)
        obj = await sync_store.create(
            tx, ctx.account_sid, ctx.service_sid, "list", names.user_acl(ctx.identity)
        )
        now = timefmt.now()
        row = lists.SessionList(
            list_sid=obj["sid"],
            account_sid=AccountSid(ctx.account_sid),
            service_sid=ServiceSid(ctx.service_sid),
            identity=ctx.identity,
            next_index=0,
            date_created=now,
            last_command=now,
        )
        await lists.add(tx, row)
        await sync_store.set_context(tx, obj, session_context(ctx, service, user), CAUSE)
    # the client subscribes from event 0 and reads the context from its replay
    described = sync_store.render_object(ctx.runtime.base_url, {**obj, "last_event_id": 0})
    return Response(201, described)


async def _make_room(tx: Tx, ctx: Ctx) -> None:
    """End the caller's least recently used sessions beyond ``SESSIONS_MAX - 1``
    (a client of an ended session gets 54150 and starts a new one)."""
    used = await lists.of_identity(tx, ctx.service_sid, ctx.identity)
    for list_sid in used[SESSIONS_MAX - 1 :]:
        await _end(tx, ctx.service_sid, list_sid)


async def _end(tx: Tx, service_sid: str, list_sid: str) -> None:
    """A session list and its rows removed (``list_removed``)."""
    obj = await sync_store.find(tx, service_sid, "list", list_sid)
    if obj is not None:
        await sync_store.remove_object(tx, obj, CAUSE)
    await lists.forget(tx, list_sid)


async def _readable(tx: Tx, ctx: Ctx, ident: str) -> Row:
    """A list the caller may read: 54150 when there is none, 54007 when not."""
    obj = await sync_store.find(tx, ctx.service_sid, "list", ident)
    if obj is None:
        raise sync_store.not_found("list", ident)
    if not await access.readable(tx, obj, ctx.service_sid, ctx.identity):
        raise TwilioError(54007, identity=ctx.identity)
    return obj


async def _session(tx: Tx, ctx: Ctx, ident: str) -> Row:
    """The caller's session list (§9.7); any other list is 54007, since
    clients write no other Sync object."""
    obj = await _readable(tx, ctx, ident)
    owned = await lists.get(tx, obj["sid"])
    if owned is None or owned["identity"] != ctx.identity:
        raise TwilioError(54007, identity=ctx.identity)
    return obj


async def context(request: Request) -> Response:
    ctx = Ctx.of(request)
    async with ctx.store.read() as tx:
        obj = await _readable(tx, ctx, request.path_params["id"])
    return Response(200, sync_store.context(obj))


# ---------------------------------------------------------------- commands


def _command(body: Any) -> tuple[dict[str, Any], str, str, dict[str, Any]]:
    """(item data, commandId, action, params) of ``{data: {commandId, request}}``."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        raise TwilioError(54008, detail="data must be an object")
    command_id = data.get("commandId")
    if not isinstance(command_id, str) or not 0 < len(command_id) <= COMMAND_ID_MAX:
        raise TwilioError(54008, detail=f"commandId: a text of 1 to {COMMAND_ID_MAX} characters")
    request = data.get("request")
    if not isinstance(request, dict) or not isinstance(request.get("action"), str):
        raise TwilioError(54008, detail="request must be an object with an action")
    if "response" in data:
        raise TwilioError(54008, detail="a command does not carry its response")
    if len(orjson.dumps(data)) > ITEM_MAX:
        raise TwilioError(54008, detail=f"a command is at most {ITEM_MAX} bytes")
    params = {k: v for k, v in request.items() if k != "action"}
    return data, command_id, request["action"], params


def _failure(error: TwilioError) -> dict[str, Any]:
    """§9.4: the SDK raises ``SessionError(statusText, status)``."""
    return {"status": error.status, "statusText": error.message, "errorCode": error.code}


class _Answer:
    """Writes a command's item and response, once, in whichever transaction
    comes first: the last action's (``within``), or its own."""

    def __init__(self, ctx: Ctx, list_sid: str, data: dict[str, Any], command_id: str) -> None:
        self.ctx = ctx
        self.list_sid = list_sid
        self.data = data
        self.command_id = command_id
        self.item: Row | None = None
        self.first_event = 0  # the list's last event id before the command's

    async def write(self, tx: Tx, response: dict[str, Any]) -> None:
        index = await lists.take_index(tx, self.list_sid)
        obj = await sync_store.find(tx, self.ctx.service_sid, "list", self.list_sid)
        if obj is None:  # removed in between (its lifetime ended)
            raise sync_store.not_found("list", self.list_sid)
        self.first_event = obj["last_event_id"]
        added = await sync_store.put_item(tx, obj, index, self.data, CAUSE, new=True)
        answered = {**self.data, "response": response}
        await sync_store.put_item(tx, obj, index, answered, CAUSE)
        row = lists.SessionCommand(
            list_sid=self.list_sid,
            command_id=self.command_id,
            item_index=index,
            date_created=timefmt.now(),
        )
        if not await lists.add_command(tx, row):
            raise TwilioError(54008, detail="this commandId was sent twice at once")
        now = timefmt.now()
        self.item = {
            "item_key": str(index),
            "item_index": index,
            "data": orjson.dumps(self.data).decode(),
            "last_event_id": added,
            "date_created": now,
            "date_updated": now,
        }


async def _known(ctx: Ctx, obj: Row, command_id: str) -> Row | None:
    async with ctx.store.read() as tx:
        known = await lists.command(tx, obj["sid"], command_id)
        if known is None:
            return None
        return await sync_store.get_item(tx, obj, str(known["item_index"]))


async def _run(
    request: Request, actions: Actions, plan: commands.Plan, answer: _Answer
) -> dict[str, Any] | None:
    """Each client action of the plan, by name, as the caller; the last one's
    transaction writes the answer. Returns the error response of a refused
    command (not yet written)."""
    last = len(plan.calls) - 1
    for number, step in enumerate(plan.calls):

        async def within(tx: Tx, result: Any, final: bool = number == last) -> None:
            plan.results.append(result)
            if final:
                await answer.write(tx, {"status": 200, **plan.answer(plan.results)})

        ctx = Ctx.of(request)
        ctx.within = within
        try:
            await actions.perform(step.action, ctx, step.args, step.body)
        except TwilioError as error:
            # the item went with a transaction that did not commit (or, if the
            # failure came after the commit, the commandId finds it below)
            answer.item = None
            if not plan.each:
                return _failure(error)
            log.debug("session command entry refused: %s %s", error.code, error.message)
    return None


async def command(request: Request, actions: Actions) -> Response:
    """``POST /v3/Lists/{id}/Items``: run a session command (§9.4)."""
    ctx = Ctx.of(request)
    async with ctx.store.read() as tx:
        obj = await _session(tx, ctx, request.path_params["id"])
    data, command_id, action, params = _command(request.body)
    base_url = ctx.runtime.base_url
    stored = await _known(ctx, obj, command_id)
    if stored is not None:  # sent again: answered already, not run again
        return Response(201, sync_store.render_item(base_url, obj, stored))
    answer = _Answer(ctx, obj["sid"], data, command_id)
    response: dict[str, Any] | None = None
    try:
        plan = await commands.plan(ctx, action, params)
        response = await _run(request, actions, plan, answer)
    except TwilioError as error:
        response = _failure(error)
    else:
        # nothing wrote it when every entry of a report was refused
        response = response or {"status": 200, **plan.answer(plan.results)}
    if answer.item is None:
        try:
            async with ctx.store.write() as tx:
                await answer.write(tx, response)
        except TwilioError as error:
            stored = await _known(ctx, obj, command_id)
            if stored is None:
                raise error from None
            return Response(201, sync_store.render_item(base_url, obj, stored))
    assert answer.item is not None
    if response["status"] >= 400:
        _log_refusal(ctx, action, response)
    await _deliver(request, obj["sid"], answer.first_event)
    return Response(201, sync_store.render_item(base_url, obj, answer.item))


def _log_refusal(ctx: Ctx, action: str, response: dict[str, Any]) -> None:
    """As the gateway logs a failed request (docs/realtime-protocol.md §5): the
    command's item is stored, so its POST succeeded, but the action was not."""
    status = response["status"]
    level = logging.INFO if status in REFUSALS else logging.DEBUG
    log.log(
        level,
        "client command %s: %s %s identity=%s %s: %s",
        "refused" if status in REFUSALS else "failed",
        status,
        response.get("errorCode"),
        ctx.identity,
        action,
        response.get("statusText"),
    )


async def _deliver(request: Request, list_sid: str, after: int) -> None:
    """The list's new events to the caller's socket, after the action's own
    Sync events and before the reply (§9.4 step 3)."""
    async with request.runtime.store.read() as tx:
        rows = await sync_store.events_after(tx, list_sid, after)
    subs = subscriptions(request.session, request.runtime)
    await subs.deliver(list_sid, rows, wait=True)


# ---------------------------------------------------------------- lifetime


async def expire(store: Store, now: int, batch: int = 100) -> int:
    """Remove session lists a day without commands, and answered commands a
    day old from live ones (§9.3); returns how many were removed."""
    cutoff = now - LIFETIME
    removed = 0
    async with store.write() as tx:
        for row in await lists.idle_before(tx, cutoff, batch):
            await _end(tx, row["service_sid"], row["list_sid"])
            removed += 1
        for done in await lists.answered_before(tx, cutoff, batch):
            obj = await sync_store.find(tx, done["service_sid"], "list", done["list_sid"])
            if obj is not None:
                await sync_store.remove_item(tx, obj, done["item_index"], CAUSE)
            await lists.forget_command(tx, done["list_sid"], done["command_id"])
            removed += 1
    return removed


class Janitor:
    """Runs ``expire`` every ``every`` seconds."""

    def __init__(self, store: Store, every: float = 600.0) -> None:
        self.store = store
        self.every = every
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="parley-session-janitor")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            try:
                while await expire(self.store, timefmt.now()):
                    await asyncio.sleep(0)
            except Exception:
                log.exception("expiring session lists failed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def register(routes: Routes, actions: Actions) -> None:
    async def run_command(request: Request) -> Response:
        return await command(request, actions)

    routes.add("POST", "/v3/Lists", create)
    routes.add("GET", "/v3/Lists/{id}/Context", context)
    routes.add("POST", "/v3/Lists/{id}/Items", run_command)
