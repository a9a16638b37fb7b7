"""Configuration, users and typing (docs/realtime-protocol.md §7.1, §7.2, §7.4)."""

from typing import Any, cast

from parley.api.table import Kind, Param
from parley.api.users import NAME_MAX
from parley.domain import limits, members, services, users
from parley.errors import TwilioError
from parley.events.bus import Signal, SignalSubscriber
from parley.realtime.chat import guard, shapes
from parley.realtime.chat.actions import Args, ClientAction, Target, Values, perform
from parley.realtime.chat.context import Ctx, keyset_page
from parley.realtime.chat.guard import own_or_any
from parley.realtime.gateway import Sessions
from parley.realtime.tunnel import Request, Response, Routes
from parley.store import Row, Tx
from parley.sync import names, projection

PAGE = 50
TYPING = "twilio.ipmsg.typing_indicator"

USER_FIELDS = {"friendly_name": "FriendlyName", "attributes": "Attributes"}
USER_PARAMS = (
    Param("FriendlyName", "friendly_name", max_len=NAME_MAX, len_code=50003, nullable=True),
    Param(
        "Attributes",
        "attributes",
        Kind.JSON,
        max_len=limits.ATTRIBUTES_MAX,
        len_code=50303,
        nullable=True,
    ),
)


async def configuration(request: Request) -> Response:
    ctx = Ctx.of(request)
    async with ctx.store.write() as tx:
        service = await ctx.service(tx)
        user = await ctx.user(tx)
        # users stored before the Sync view existed get their maps now
        await projection.user_maps(tx, user)
    interval = int(service.get("consumption_report_interval") or 10)
    links = {
        "my_conversations": ctx.my_conversations,
        "conversations": f"{ctx.base}/Conversations",
        "users": f"{ctx.base}/Users",
        "current_user": ctx.user_url(ctx.identity),
        "typing": f"{ctx.base}/Typing",
        # the URL @twilio/mcs-client POSTs uploads to and appends /{ME} to
        # (mcs-client@0.5.3 builds/lib.js Client.post/get; Twilio serves
        # https://mcs.us1.twilio.com/v1/Services/{IS}/Media)
        "media_service": f"{ctx.runtime.base_url}/v1/Services/{ctx.service_sid}/Media",
        "messages_receipts": f"{ctx.base}/Conversations/%s/Messages/%s/Receipts",
    }
    body = {
        "identity": ctx.identity,
        "url": f"{ctx.runtime.base_url}/Client/v1/Configuration",
        "options": {
            "consumption_report_interval": f"PT{interval}S",
            "user_infos_to_subscribe": 100,
            "reachability_enabled": bool(service.get("reachability_enabled")),
            "http_cache_interval": "PT1S",
            "my_conversations_page_size": PAGE,
        },
        "sync_objects": {
            "my_conversations": names.user_channels(user["sid"]),
            "my_user_info": names.user_info(user["sid"]),
        },
        "links": links,
    }
    return Response(200, body)


async def _user_by_identity(tx: Tx, ctx: Ctx, identity: str) -> Row:
    row = await users.by_identity(tx, ctx.service_sid, identity)
    if row is None:
        raise TwilioError(50200, identity=identity)
    return cast(Row, row)  # an action's subject is a generic row


async def get_user(request: Request) -> Response:
    ctx = Ctx.of(request)
    async with ctx.store.read() as tx:
        service = await ctx.service(tx)
        row = await _user_by_identity(tx, ctx, request.path_params["identity"])
    return Response(200, shapes.user(ctx, row, service))


async def list_users(request: Request) -> Response:
    """``?ConversationSid=``: the users of a channel the caller belongs to."""
    ctx = Ctx.of(request)
    channel_key = request.params.get("ConversationSid") or request.params.get("ChannelSid")
    if not channel_key:
        raise TwilioError(20001, name="ConversationSid", missing=True)
    async with ctx.store.read() as tx:
        service = await ctx.service(tx)
        channel = await guard.members_channel(tx, service, await ctx.user(tx), channel_key)
        where = {"channel_sid": channel["sid"]}
        rows, meta = await keyset_page(
            tx, members.TABLE, where, request.params.get("PageToken"), PAGE
        )
        found = []
        for member in rows:
            user = await users.by_sid(tx, member["user_sid"])
            if user is not None:
                found.append(shapes.user(ctx, user, service))
    return Response(200, {"users": found, "meta": meta})


async def _with_user(tx: Tx, ctx: Ctx, args: Args) -> Target:
    me = await ctx.user(tx)
    target = await _user_by_identity(tx, ctx, args["identity"])
    return Target(await ctx.service(tx), me, subject=target)


async def _update_user(
    tx: Tx, ctx: Ctx, target: Target, values: Values
) -> tuple[Row, services.Service]:
    row = await users.update(tx, target.service, target.subject_row, values, ctx.origin)
    return row, target.service


UPDATE_USER = ClientAction(
    name="updateUser",
    params=USER_PARAMS,
    fields=USER_FIELDS,
    resolve=_with_user,
    permissions=lambda ctx, t, values: [
        own_or_any(t.subject_row["identity"] == ctx.identity, "editOwnUserInfo", "editAnyUserInfo")
    ],
    pre_event=lambda values: "onUserUpdate",
    pre_params=lambda ctx, t, values: {
        "Identity": t.subject_row["identity"],
        **{w: str(values[f]) for f, w in USER_FIELDS.items() if values.get(f)},
    },
    run=_update_user,
)

ACTIONS = (UPDATE_USER,)


async def update_user(request: Request) -> Response:
    ctx = Ctx.of(request)
    row, service = await perform(UPDATE_USER, ctx, request.path_params, request.form())
    return Response(200, shapes.user(ctx, row, service))


async def typing(request: Request) -> Response:
    """Not stored, no webhook (docs/behaviour.md, "Typing"): pushed to the other
    members' sockets."""
    ctx = Ctx.of(request)
    form: dict[str, Any] = request.form()
    key = form.get("ChannelSid") or form.get("ConversationSid") or form.get("channel_sid")
    if not key:
        raise TwilioError(20001, name="ChannelSid", missing=True)
    timeout = await start_typing(ctx, str(key))
    return Response(200, {"typing_timeout": timeout})


async def start_typing(ctx: Ctx, key: str) -> int:
    """The typing action (members only) behind ``typing`` and
    ``POST /parley/v1/simulate/typing``: the other members' sockets are told,
    on whichever process they are (a bus signal, ``deliver_typing``); returns
    the service's typing timeout."""
    async with ctx.store.read() as tx:
        service = await ctx.service(tx)
        channel = await guard.members_channel(tx, service, await ctx.user(tx), key)
        others = {
            m["identity"]
            for m in await members.in_channel(tx, channel["sid"])
            if m["identity"] != ctx.identity
        }
    timeout = int(service.get("typing_indicator_timeout") or 5)
    payload = {"channel_sid": channel["sid"], "identity": ctx.identity, "typing_timeout": timeout}
    if others:
        signal = {"kind": TYPING, "service_sid": ctx.service_sid, "to": sorted(others)}
        await ctx.runtime.bus.signal({**signal, "payload": payload})
    return timeout


def typing_receiver(sessions: Sessions) -> SignalSubscriber:
    """This process's side of typing: the signal goes to its own sockets of
    the members it names."""

    async def deliver_typing(signal: Signal) -> None:
        if signal.get("kind") != TYPING:
            return
        to = set(signal.get("to") or ())
        for session in sessions.connected(str(signal.get("service_sid"))):
            if session.grant is not None and session.grant.identity in to:
                await session.notify(TYPING, signal.get("payload"))

    return deliver_typing


def register(routes: Routes) -> None:
    base = "/Client/v1/Services/{service}"
    routes.add("GET", "/Client/v1/Configuration", configuration)
    routes.add("GET", base + "/Users", list_users)
    routes.add("GET", base + "/Users/{identity}", get_user)
    routes.add("POST", base + "/Users/{identity}", update_user)
    routes.add("POST", base + "/Typing", typing)
