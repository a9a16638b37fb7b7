"""Send, edit and delete messages from a client."""

from collections.abc import Mapping
from typing import Any

from parley.api import messages as messages_api
from parley.domain import messages
from parley.errors import TwilioError
from parley.realtime.chat import guard, shapes
from parley.realtime.chat.channels import visible_channel
from parley.realtime.chat.context import Ctx, PreEvent, decode, replace
from parley.realtime.tunnel import Request, Response, Routes
from parley.store import Row, Tx, repo

FIELDS = {"body": "Body", "attributes": "Attributes", "media_sid": "MediaSid"}


async def _where(tx: Tx, ctx: Ctx, key: str) -> tuple[Row, Row, Row, Row | None]:
    service = await ctx.service(tx)
    user = await ctx.user(tx)
    channel = await visible_channel(tx, ctx, service, key)
    return service, user, channel, await guard.member_of(tx, channel, user)


async def _message(tx: Tx, channel: Row, sid: str) -> Row:
    found = await repo.get(tx, "messages", {"sid": sid, "channel_sid": channel["sid"]})
    if found is None:
        raise TwilioError(20404, path=sid)
    return found


async def send(request: Request) -> Response:
    """sendMessage / sendMediaMessage (member role); ``From`` is the caller."""
    ctx = Ctx.of(request)
    row = await send_message(ctx, request.path_params["channel"], request.form())
    return Response(201, shapes.message(ctx, row))


async def send_message(ctx: Ctx, key: str, body: Mapping[str, Any]) -> Row:
    """The client action behind ``send`` (and ``POST /parley/v1/simulate/message``):
    role check, pre-event webhook, the message written with Source=SDK."""
    values = decode(body, messages_api.CREATE, FIELDS)
    values.pop("author", None)
    media = values.get("media_sid") is not None
    event = "onMediaMessageSend" if media else "onMessageSend"

    async def check(tx: Tx) -> PreEvent:
        _, user, channel, member = await _where(tx, ctx, key)
        await guard.require(tx, "sendMediaMessage" if media else "sendMessage", user, member)
        pre = {"ChannelSid": channel["sid"], "From": ctx.identity}
        if values.get("body") is not None:
            pre["Body"] = str(values["body"])
        if values.get("attributes") is not None:
            pre["Attributes"] = str(values["attributes"])
        if media:
            pre["MediaSid"] = str(values["media_sid"])
        return PreEvent(event, pre)

    async def act(tx: Tx, replacements: dict[str, str]) -> Row:
        service, _, channel, _ = await _where(tx, ctx, key)
        final = replace(values, replacements, messages_api.CREATE, FIELDS)
        final["author"] = ctx.identity
        return await messages.create(tx, service, channel, final, ctx.origin)

    return await ctx.perform(check, act)


async def edit(request: Request) -> Response:
    ctx = Ctx.of(request)
    key, sid = request.path_params["channel"], request.path_params["message"]
    values = decode(request.form(), messages_api.UPDATE, FIELDS)

    async def check(tx: Tx) -> PreEvent:
        _, user, channel, member = await _where(tx, ctx, key)
        message = await _message(tx, channel, sid)
        own = message.get("author") == ctx.identity
        if "body" in values:
            wanted = guard.own_or_any(own, "editOwnMessage", "editAnyMessage")
            await guard.require_one(tx, wanted, user, member)
        if "attributes" in values:
            wanted = guard.own_or_any(own, "editOwnMessageAttributes", "editAnyMessageAttributes")
            await guard.require_one(tx, wanted, user, member)
        pre = {"ChannelSid": channel["sid"], "MessageSid": sid, "ModifiedBy": ctx.identity}
        if values.get("body") is not None:
            pre["Body"] = str(values["body"])
        if values.get("attributes") is not None:
            pre["Attributes"] = str(values["attributes"])
        return PreEvent("onMessageUpdate", pre)

    async def act(tx: Tx, replacements: dict[str, str]) -> Row:
        service, _, channel, _ = await _where(tx, ctx, key)
        message = await _message(tx, channel, sid)
        final = replace(values, replacements, messages_api.UPDATE, FIELDS)
        final["last_updated_by"] = ctx.identity
        return await messages.update(tx, service, channel, message, final, ctx.origin)

    row = await ctx.perform(check, act)
    return Response(200, shapes.message(ctx, row))


async def delete(request: Request) -> Response:
    ctx = Ctx.of(request)
    key, sid = request.path_params["channel"], request.path_params["message"]

    async def check(tx: Tx) -> PreEvent:
        _, user, channel, member = await _where(tx, ctx, key)
        message = await _message(tx, channel, sid)
        own = message.get("author") == ctx.identity
        wanted = guard.own_or_any(own, "deleteOwnMessage", "deleteAnyMessage")
        await guard.require_one(tx, wanted, user, member)
        return PreEvent("onMessageRemove", {"ChannelSid": channel["sid"], "MessageSid": sid})

    async def act(tx: Tx, replacements: dict[str, str]) -> None:
        service, _, channel, _ = await _where(tx, ctx, key)
        message = await _message(tx, channel, sid)
        await messages.remove(tx, service, channel, message, ctx.origin)

    await ctx.perform(check, act)
    return Response(204)


def register(routes: Routes) -> None:
    base = "/Client/v1/Services/{service}/Conversations/{channel}/Messages"
    routes.add("POST", base, send)
    routes.add("POST", base + "/{message}", edit)
    routes.add("DELETE", base + "/{message}", delete)
