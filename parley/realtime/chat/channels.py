"""Channels as the client sees them: the public directory, create / update /
destroy, and the caller's own channels with its consumption horizon."""

from typing import Any

import orjson

from parley.api import channels as channels_api
from parley.api import codec
from parley.api import user_channels as user_channels_api
from parley.domain import channel_delete, channels, invites, members, services, user_channels, users
from parley.errors import TwilioError
from parley.realtime.chat import guard, shapes
from parley.realtime.chat.actions import Args, ClientAction, Target, Values, caller, perform
from parley.realtime.chat.context import Ctx, keyset_page
from parley.realtime.tunnel import Request, Response, Routes
from parley.store import Row, Tx
from parley.sync import names
from parley.sync import store as sync_store

PAGE = 50
CHANNEL_FIELDS = {
    "friendly_name": "FriendlyName",
    "unique_name": "UniqueName",
    "attributes": "Attributes",
    "type": "Type",
}
MY_FIELDS = {
    "last_consumed_message_index": "LastConsumedMessageIndex",
    "notification_level": "NotificationLevel",
}


async def visible_channel(tx: Tx, ctx: Ctx, service: services.Service, key: str) -> Row:
    """A channel the caller may see: public, or one it belongs to / is invited to."""
    channel = await channels.find(tx, service, key)
    if channel is None:
        raise TwilioError(50300, detail=key)
    if channel["type"] != channels.PUBLIC:
        member = await members.by_identity(tx, channel["sid"], ctx.identity)
        if member is None and await invites.pending(tx, channel["sid"], ctx.identity) is None:
            raise TwilioError(50300, detail=key)
    return channel


async def in_channel(tx: Tx, ctx: Ctx, args: Args) -> Target:
    """The service, the caller, the channel ``args["channel"]`` names (one it
    may see) and the caller's membership of it."""
    service = await ctx.service(tx)
    user = await ctx.user(tx)
    channel = await visible_channel(tx, ctx, service, args["channel"])
    return Target(service, user, channel, await guard.member_of(tx, channel, user))


async def _mine(
    tx: Tx, service: services.Service, user: users.UserRow, channel: channels.ChannelRow
) -> Row | None:
    return await user_channels.get(tx, service, user, channel)


async def list_public(request: Request) -> Response:
    ctx = Ctx.of(request)
    async with ctx.store.read() as tx:
        service = await ctx.service(tx)
        where = {"service_sid": service["sid"], "type": channels.PUBLIC}
        rows, meta = await keyset_page(
            tx, channels.TABLE, where, request.params.get("PageToken"), PAGE
        )
    body = [shapes.channel(ctx, row) for row in rows]
    return Response(200, {"conversations": body, "meta": meta})


def _meta(next_token: str | None) -> dict[str, Any]:
    return {"previous_token": None, "next_token": next_token, "prev_token": None}


async def get_channel(request: Request) -> Response:
    ctx = Ctx.of(request)
    async with ctx.store.read() as tx:
        service = await ctx.service(tx)
        user = await ctx.user(tx)
        channel = await visible_channel(tx, ctx, service, request.path_params["channel"])
        mine = await _mine(tx, service, user, channel)
    return Response(200, shapes.channel(ctx, channel, mine))


def _channel_pre(values: Values) -> dict[str, str]:
    return {w: str(values[f]) for f, w in CHANNEL_FIELDS.items() if values.get(f) is not None}


async def _create(tx: Tx, ctx: Ctx, target: Target, values: Values) -> Row:
    service = target.service
    channel = await channels.create(tx, service, {**values, "created_by": ctx.identity}, ctx.origin)
    await members.join_as_creator(tx, service, channel, ctx.identity, ctx.origin)
    return await channels.reload(tx, channel)


CREATE = ClientAction(
    name="createChannel",
    params=channels_api.CREATE,
    fields=CHANNEL_FIELDS,
    resolve=caller,
    permissions=lambda ctx, t, values: [("createChannel",)],
    pre_event=lambda values: "onChannelAdd",
    pre_params=lambda ctx, t, values: {**_channel_pre(values), "CreatedBy": ctx.identity},
    run=_create,
)


def _update_permissions(ctx: Ctx, target: Target, values: Values) -> list[tuple[str, ...]]:
    wanted: list[tuple[str, ...]] = []
    if "friendly_name" in values or "unique_name" in values:
        wanted.append(("editChannelName",))
    if "attributes" in values:
        wanted.append(("editChannelAttributes",))
    return wanted


async def _update(tx: Tx, ctx: Ctx, target: Target, values: Values) -> Row:
    return await channels.update(tx, target.service, target.channel_row, values, ctx.origin)


UPDATE = ClientAction(
    name="updateChannel",
    params=channels_api.UPDATE,
    fields=CHANNEL_FIELDS,
    resolve=in_channel,
    permissions=_update_permissions,
    pre_event=lambda values: "onChannelUpdate",
    pre_params=lambda ctx, t, values: {**_channel_pre(values), "ChannelSid": t.channel_row["sid"]},
    run=_update,
)


async def _destroy(tx: Tx, ctx: Ctx, target: Target, values: Values) -> None:
    await channel_delete.delete(tx, target.service, target.channel_row, ctx.origin)


DESTROY = ClientAction(
    name="destroyChannel",
    resolve=in_channel,
    permissions=lambda ctx, t, values: [("destroyChannel",)],
    pre_event=lambda values: "onChannelDestroy",
    pre_params=lambda ctx, t, values: {"ChannelSid": t.channel_row["sid"]},
    run=_destroy,
)


async def _a_member(tx: Tx, ctx: Ctx, target: Target, values: Values) -> None:
    if target.member is None:
        raise TwilioError(50400)


async def _update_mine(tx: Tx, ctx: Ctx, target: Target, values: Values) -> Row:
    service = target.service
    final = user_channels.reported(service, values)
    return await user_channels.update(
        tx, service, target.user, target.channel_row, final, ctx.origin
    )


UPDATE_MINE = ClientAction(
    name="updateUserChannel",
    params=user_channels_api.UPDATE,
    fields=MY_FIELDS,
    resolve=in_channel,
    refuse=_a_member,
    permissions=lambda ctx, t, values: (
        [("editNotificationLevel",)] if "notification_level" in values else []
    ),
    pre_event=lambda values: "onMemberUpdate",
    pre_params=lambda ctx, t, values: {
        "ChannelSid": t.channel_row["sid"],
        "MemberSid": (t.member or {}).get("sid", ""),
        "Identity": ctx.identity,
    },
    replace_fields={},  # a pre-event's answer changes nothing here
    run=_update_mine,
)

ACTIONS = (CREATE, UPDATE, DESTROY, UPDATE_MINE)


async def create_channel(request: Request) -> Response:
    """createChannel; its creator joins with the creator role (domain/members.py)."""
    ctx = Ctx.of(request)
    channel = await perform(CREATE, ctx, request.path_params, request.form())
    return Response(201, shapes.channel(ctx, channel, {"status": "joined"}))


async def update_channel(request: Request) -> Response:
    ctx = Ctx.of(request)
    channel = await perform(UPDATE, ctx, request.path_params, request.form())
    return Response(200, shapes.channel(ctx, channel))


async def destroy_channel(request: Request) -> Response:
    await perform(DESTROY, Ctx.of(request), request.path_params)
    return Response(204)


async def list_mine(request: Request) -> Response:
    """The caller's joined and invited channels, read from its Sync map so the
    list and the live map never disagree; each entry carries the channel's own
    fields too (``getUserChannelDescriptors()`` builds descriptors from them)."""
    ctx = Ctx.of(request)
    if request.path_params["identity"] != ctx.identity:
        raise TwilioError(54007, identity=ctx.identity)
    token = request.params.get("PageToken")
    # the map pages on its item keys (channel SIDs), in REST's page tokens
    start = codec.read_token(token, text=True)[1] if token else None
    async with ctx.store.read() as tx:
        service = await ctx.service(tx)
        user = await ctx.user(tx)
        mine = await sync_store.find(tx, ctx.service_sid, "map", names.user_channels(user["sid"]))
        rows: list[Row] = []
        more = False
        if mine is not None:
            rows, _, more = await sync_store.items_page(
                tx, mine, start=start, descending=False, limit=PAGE, inclusive=start is None
            )
        keys = [item["item_key"] for item in rows]
        found = await channels.of_service_among(tx, service["sid"], keys, PAGE)
    by_sid = {row["sid"]: row for row in found}
    conversations = []
    for item in rows:
        sid = item["item_key"]
        channel = by_sid.get(sid)
        if channel is None:  # removed in between: the map follows in its own event
            continue
        data = orjson.loads(item["data"])
        mine_now = {
            "status": data.get("status"),
            "last_consumed_message_index": data.get("lastConsumedMessageIndex"),
            "notification_level": data.get("notificationLevel") or "default",
        }
        conversations.append(
            {
                **shapes.channel(ctx, channel, mine_now),
                "channel_sid": sid,
                "url": f"{ctx.my_conversations}/{sid}",
            }
        )
    next_token = codec.make_token("A", rows[-1]["item_key"]) if rows and more else None
    return Response(200, {"conversations": conversations, "meta": _meta(next_token)})


async def get_mine(request: Request) -> Response:
    ctx = Ctx.of(request)
    if request.path_params["identity"] != ctx.identity:
        raise TwilioError(54007, identity=ctx.identity)
    async with ctx.store.read() as tx:
        service = await ctx.service(tx)
        user = await ctx.user(tx)
        channel = await visible_channel(tx, ctx, service, request.path_params["channel"])
        mine = await _mine(tx, service, user, channel)
    if mine is None:
        raise TwilioError(50400)
    return Response(200, shapes.my_channel(ctx, mine))


async def update_mine(request: Request) -> Response:
    """Consumption horizon and notification level (docs/realtime-protocol.md §7.3)."""
    ctx = Ctx.of(request)
    if request.path_params["identity"] != ctx.identity:
        raise TwilioError(54007, identity=ctx.identity)
    mine = await perform(UPDATE_MINE, ctx, request.path_params, request.form())
    return Response(200, shapes.my_channel(ctx, mine))


def register(routes: Routes) -> None:
    base = "/Client/v1/Services/{service}"
    routes.add("GET", base + "/Conversations", list_public)
    routes.add("POST", base + "/Conversations", create_channel)
    routes.add("GET", base + "/Conversations/{channel}", get_channel)
    routes.add("POST", base + "/Conversations/{channel}", update_channel)
    routes.add("DELETE", base + "/Conversations/{channel}", destroy_channel)
    routes.add("GET", base + "/Users/{identity}/Conversations", list_mine)
    routes.add("GET", base + "/Users/{identity}/Conversations/{channel}", get_mine)
    routes.add("POST", base + "/Users/{identity}/Conversations/{channel}", update_mine)
