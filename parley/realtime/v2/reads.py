"""The reads of §9.5: the paths a 2.x-4.x session context names, answered by
version 1's reads (§7.2) under the older names (``channels``,
``members_count``). Users (``usersUrl``) are version 1's paths unchanged."""

from typing import Any

from parley.realtime.chat.context import Ctx
from parley.realtime.tunnel import Request, Response, Routes
from parley.realtime.v2.dispatch import base, call, part
from parley.sync import names


def descriptor(channel: dict[str, Any]) -> dict[str, Any]:
    """A version 1 channel descriptor with the field names 2.x-4.x read."""
    out = {**channel, "members_count": channel.get("participants_count", 0)}
    sid = out.get("channel_sid") or out.get("sid")
    if isinstance(sid, str):  # the user channel list's Sync names (§9.5 syncListUrl)
        out.update(
            channel=names.channel_doc(sid), messages=names.messages(sid), roster=names.roster(sid)
        )
    return out


def _channels(response: Response) -> Response:
    body = response.body
    listed = [descriptor(c) for c in body.get("conversations", [])]
    return Response(response.status, {"channels": listed, "meta": body.get("meta", {})})


def _params(request: Request) -> dict[str, str]:
    return {k: v for k, v in request.params.items() if k == "PageToken"}


async def public_channels(request: Request) -> Response:
    ctx = Ctx.of(request)
    path = f"{base(ctx.service_sid)}/Conversations"
    return _channels(await call(request, "GET", path, params=_params(request)))


async def public_channel(request: Request) -> Response:
    ctx = Ctx.of(request)
    path = f"{base(ctx.service_sid)}/Conversations/{part(request.path_params['channel'])}"
    found = await call(request, "GET", path)
    return Response(found.status, descriptor(found.body))


async def my_channels(request: Request) -> Response:
    """``?ChannelSid=CH``: that one channel's entry (its unread count)."""
    ctx = Ctx.of(request)
    mine = f"{base(ctx.service_sid)}/Users/{part(request.path_params['identity'])}/Conversations"
    channel = request.params.get("ChannelSid")
    if channel:
        found = await call(request, "GET", f"{mine}/{part(channel)}")
        return Response(found.status, {"channels": [found.body], "meta": {"next_token": None}})
    return _channels(await call(request, "GET", mine, params=_params(request)))


async def typing(request: Request) -> Response:
    """``POST {apiUri}/v1/typing`` (the SDK's own URL), form ``ChannelSid``."""
    ctx = Ctx.of(request)
    return await call(request, "POST", f"{base(ctx.service_sid)}/Typing", request.body)


def register(routes: Routes) -> None:
    b = "/Client/v1/Services/{service}"
    routes.add("GET", b + "/Channels", public_channels)
    routes.add("GET", b + "/Channels/{channel}", public_channel)
    routes.add("GET", b + "/Users/{identity}/Channels", my_channels)
    routes.add("GET", b + "/Users/{identity}/ChannelsSync", my_channels)
    routes.add("POST", "/v1/typing", typing)
