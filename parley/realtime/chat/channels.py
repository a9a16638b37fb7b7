"""Channels as the client sees them: the public directory, create / update /
destroy, and the caller's own channels with its consumption horizon."""

from typing import Any

import orjson

from parley.api import channels as channels_api
from parley.api import user_channels as user_channels_api
from parley.domain import channels, members, user_channels
from parley.errors import TwilioError
from parley.realtime.chat import guard, shapes
from parley.realtime.chat.context import Ctx, PreEvent, decode, keyset_page, replace
from parley.realtime.tunnel import Request, Response, Routes
from parley.store import Row, Tx, repo
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


async def visible_channel(tx: Tx, ctx: Ctx, service: Row, key: str) -> Row:
    """A channel the caller may see: public, or one it belongs to / is invited to."""
    channel = await channels.find(tx, service, key)
    if channel is None:
        raise TwilioError(50300, detail=key)
    if channel["type"] != channels.PUBLIC:
        where = {"channel_sid": channel["sid"], "identity": ctx.identity}
        member = await repo.get(tx, "members", where)
        if member is None and await repo.get(tx, "invites", where) is None:
            raise TwilioError(50300, detail=key)
    return channel


async def _mine(tx: Tx, service: Row, user: Row, channel: Row) -> Row | None:
    return await user_channels.get(tx, service, user, channel)


async def list_public(request: Request) -> Response:
    ctx = Ctx.of(request)
    async with ctx.store.read() as tx:
        service = await ctx.service(tx)
        where = {"service_sid": service["sid"], "type": channels.PUBLIC}
        rows, meta = await keyset_page(tx, "channels", where, request.params.get("PageToken"), PAGE)
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


async def create_channel(request: Request) -> Response:
    """createChannel (user role); the creator joins with the service's
    channel-creator role (roles.md §4)."""
    ctx = Ctx.of(request)
    values = decode(request.form(), channels_api.CREATE, CHANNEL_FIELDS)

    async def check(tx: Tx) -> PreEvent:
        await guard.require(tx, "createChannel", await ctx.user(tx))
        pre = {w: str(values[f]) for f, w in CHANNEL_FIELDS.items() if values.get(f) is not None}
        pre["CreatedBy"] = ctx.identity
        return PreEvent("onChannelAdd", pre)

    async def act(tx: Tx, replacements: dict[str, str]) -> Row:
        service = await ctx.service(tx)
        final = replace(values, replacements, channels_api.CREATE, CHANNEL_FIELDS)
        final["created_by"] = ctx.identity
        channel = await channels.create(tx, service, final, ctx.origin)
        role = service["default_channel_creator_role_sid"]
        await members.add(
            tx, service, channel, ctx.identity, ctx.origin, {"role_sid": role}, members.JOINED
        )
        return await channels.reload(tx, channel)

    channel = await ctx.perform(check, act)
    return Response(201, shapes.channel(ctx, channel, {"status": "joined"}))


async def update_channel(request: Request) -> Response:
    ctx = Ctx.of(request)
    key = request.path_params["channel"]
    values = decode(request.form(), channels_api.UPDATE, CHANNEL_FIELDS)

    async def check(tx: Tx) -> PreEvent:
        service = await ctx.service(tx)
        user = await ctx.user(tx)
        channel = await visible_channel(tx, ctx, service, key)
        member = await guard.member_of(tx, channel, user)
        if "friendly_name" in values or "unique_name" in values:
            await guard.require(tx, "editChannelName", user, member)
        if "attributes" in values:
            await guard.require(tx, "editChannelAttributes", user, member)
        pre = {w: str(values[f]) for f, w in CHANNEL_FIELDS.items() if values.get(f) is not None}
        pre["ChannelSid"] = channel["sid"]
        return PreEvent("onChannelUpdate", pre)

    async def act(tx: Tx, replacements: dict[str, str]) -> Row:
        service = await ctx.service(tx)
        channel = await visible_channel(tx, ctx, service, key)
        final = replace(values, replacements, channels_api.UPDATE, CHANNEL_FIELDS)
        return await channels.update(tx, service, channel, final, ctx.origin)

    channel = await ctx.perform(check, act)
    return Response(200, shapes.channel(ctx, channel))


async def destroy_channel(request: Request) -> Response:
    ctx = Ctx.of(request)
    key = request.path_params["channel"]

    async def check(tx: Tx) -> PreEvent:
        service = await ctx.service(tx)
        user = await ctx.user(tx)
        channel = await visible_channel(tx, ctx, service, key)
        await guard.require(tx, "destroyChannel", user, await guard.member_of(tx, channel, user))
        return PreEvent("onChannelDestroy", {"ChannelSid": channel["sid"]})

    async def act(tx: Tx, replacements: dict[str, str]) -> None:
        service = await ctx.service(tx)
        channel = await visible_channel(tx, ctx, service, key)
        await channels.delete(tx, service, channel, ctx.origin)

    await ctx.perform(check, act)
    return Response(204)


async def list_mine(request: Request) -> Response:
    """The caller's joined and invited channels, read from its Sync map so the
    list and the live map never disagree; each entry carries the channel's own
    fields too (``getUserChannelDescriptors()`` builds descriptors from them)."""
    ctx = Ctx.of(request)
    if request.path_params["identity"] != ctx.identity:
        raise TwilioError(54007, identity=ctx.identity)
    token = request.params.get("PageToken")
    async with ctx.store.read() as tx:
        service = await ctx.service(tx)
        user = await ctx.user(tx)
        mine = await sync_store.find(tx, ctx.service_sid, "map", names.user_channels(user["sid"]))
        rows: list[Row] = []
        more = False
        if mine is not None:
            rows, _, more = await sync_store.items_page(
                tx, mine, start=token, descending=False, limit=PAGE, inclusive=token is None
            )
        keys = [item["item_key"] for item in rows]
        found = (
            await repo.page(
                tx, "channels", {"service_sid": service["sid"]}, any_of={"sid": keys}, limit=PAGE
            )
            if keys
            else []
        )
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
    next_token = rows[-1]["item_key"] if rows and more else None
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
    """Consumption horizon and notification level (client-protocol.md §4)."""
    ctx = Ctx.of(request)
    if request.path_params["identity"] != ctx.identity:
        raise TwilioError(54007, identity=ctx.identity)
    key = request.path_params["channel"]
    values = decode(request.form(), user_channels_api.UPDATE, MY_FIELDS)

    async def check(tx: Tx) -> PreEvent:
        service = await ctx.service(tx)
        user = await ctx.user(tx)
        channel = await visible_channel(tx, ctx, service, key)
        member = await guard.member_of(tx, channel, user)
        if member is None:
            raise TwilioError(50400)
        if "notification_level" in values:
            await guard.require(tx, "editNotificationLevel", user, member)
        pre = {"ChannelSid": channel["sid"], "MemberSid": member["sid"], "Identity": ctx.identity}
        return PreEvent("onMemberUpdate", pre)

    async def act(tx: Tx, replacements: dict[str, str]) -> Row:
        service = await ctx.service(tx)
        user = await ctx.user(tx)
        channel = await visible_channel(tx, ctx, service, key)
        final = dict(values)
        if not service["read_status_enabled"]:
            # push-and-clients.md §7: reports are ignored while read status is off
            final.pop("last_consumed_message_index", None)
        return await user_channels.update(tx, service, user, channel, final, ctx.origin)

    mine = await ctx.perform(check, act)
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
