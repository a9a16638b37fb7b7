"""Join, leave, add, remove, member attributes, invite and decline."""

from collections.abc import Awaitable, Callable

from parley import sids
from parley.api import members as members_api
from parley.api import params
from parley.domain import channels, invites, members
from parley.errors import TwilioError
from parley.realtime.chat import guard
from parley.realtime.chat.channels import visible_channel
from parley.realtime.chat.context import Ctx, PreEvent, decode, replace
from parley.realtime.tunnel import Request, Response, Routes
from parley.store import Row, Tx, repo

IDENTITY = (params.identity(),)
Check = Callable[[Tx], Awaitable[None]]
PreCheck = Callable[[Tx], Awaitable[PreEvent | None]]
MEMBER_FIELDS = {"attributes": "Attributes"}


async def _target(tx: Tx, ctx: Ctx, key: str) -> tuple[Row, Row, Row, Row | None]:
    """(service, caller, channel, caller's membership)."""
    service = await ctx.service(tx)
    user = await ctx.user(tx)
    channel = await visible_channel(tx, ctx, service, key)
    return service, user, channel, await guard.member_of(tx, channel, user)


async def add(request: Request) -> Response:
    """POST …/Participants {identity}: the caller itself joins (joinChannel;
    a private channel needs an invite), anyone else is added (addMember)."""
    ctx = Ctx.of(request)
    key = request.path_params["channel"]
    identity = decode(request.form(), IDENTITY, {"identity": "Identity"})["identity"]
    joining = identity == ctx.identity

    async def check(tx: Tx) -> PreEvent:
        _, user, channel, member = await _target(tx, ctx, key)
        if joining and member is not None:
            # already in: "Member already exists", private or public alike (also
            # the creator, who is joined on create; docs/realtime-protocol.md §7.3)
            raise TwilioError(50404, identity=identity)
        if joining:
            invite = await repo.get(
                tx, "invites", {"channel_sid": channel["sid"], "identity": identity}
            )
            if channel["type"] != channels.PUBLIC and invite is None:
                raise TwilioError(50107)
            await guard.require(tx, "joinChannel", user)
        else:
            await guard.require(tx, "addMember", user, member)
        return PreEvent("onMemberAdd", {"ChannelSid": channel["sid"], "Identity": identity})

    async def act(tx: Tx, replacements: dict[str, str]) -> Row:
        service, _, channel, _ = await _target(tx, ctx, key)
        values = replace({}, replacements, members_api.UPDATE, MEMBER_FIELDS)
        if "roleSid" in replacements:
            values["role_sid"] = replacements["roleSid"]
        invite = await repo.get(
            tx, "invites", {"channel_sid": channel["sid"], "identity": identity}
        )
        if joining and invite is not None and "role_sid" not in values:
            values["role_sid"] = invite["role_sid"]  # roles.md §4: applied on acceptance
        reason = members.JOINED if joining else members.ADDED
        return await members.add(tx, service, channel, identity, ctx.origin, values, reason)

    member = await ctx.perform(check, act)
    return Response(201, {"sid": member["sid"], "identity": member["identity"]})


async def _member(tx: Tx, channel: Row, key: str) -> Row:
    found = await members.find(tx, channel, key)
    if found is None:
        raise TwilioError(50400 if not sids.looks_like(sids.MEMBER, key) else 20404, path=key)
    return found


async def remove(request: Request) -> Response:
    """DELETE …/Participants/{identity|MB}: leave (leaveChannel) or remove (removeMember)."""
    ctx = Ctx.of(request)
    key = request.path_params["channel"]
    who = request.path_params["member"]

    async def check(tx: Tx) -> PreEvent:
        _, user, channel, member = await _target(tx, ctx, key)
        target = await _member(tx, channel, who)
        if target["identity"] == ctx.identity:
            await guard.require(tx, "leaveChannel", user, member)
        else:
            await guard.require(tx, "removeMember", user, member)
        pre = {"ChannelSid": channel["sid"], "MemberSid": target["sid"]}
        pre["Identity"] = target["identity"]
        return PreEvent("onMemberRemove", pre)

    async def act(tx: Tx, replacements: dict[str, str]) -> None:
        service, _, channel, _ = await _target(tx, ctx, key)
        target = await _member(tx, channel, who)
        reason = members.LEFT if target["identity"] == ctx.identity else members.REMOVED
        await members.remove(tx, service, channel, target, ctx.origin, reason)

    await ctx.perform(check, act)
    return Response(204)


async def update(request: Request) -> Response:
    """POST …/Participants/{MB} {attributes}: own or any member's attributes."""
    ctx = Ctx.of(request)
    key = request.path_params["channel"]
    who = request.path_params["member"]
    values = decode(request.form(), members_api.UPDATE, MEMBER_FIELDS)

    async def check(tx: Tx) -> PreEvent:
        _, user, channel, member = await _target(tx, ctx, key)
        target = await _member(tx, channel, who)
        own = target["identity"] == ctx.identity
        wanted = guard.own_or_any(own, "editOwnMemberAttributes", "editAnyMemberAttributes")
        await guard.require_one(tx, wanted, user, member)
        pre = {"ChannelSid": channel["sid"], "MemberSid": target["sid"]}
        if values.get("attributes") is not None:
            pre["Attributes"] = str(values["attributes"])
        return PreEvent("onMemberUpdate", pre)

    async def act(tx: Tx, replacements: dict[str, str]) -> Row:
        service, _, channel, _ = await _target(tx, ctx, key)
        target = await _member(tx, channel, who)
        final = replace(values, replacements, members_api.UPDATE, MEMBER_FIELDS)
        return await members.update(tx, service, channel, target, final, ctx.origin)

    member = await ctx.perform(check, act)
    return Response(200, {"sid": member["sid"], "identity": member["identity"]})


async def invite(request: Request) -> Response:
    ctx = Ctx.of(request)
    key = request.path_params["channel"]
    identity = decode(request.form(), IDENTITY, {"identity": "Identity"})["identity"]

    async def check(tx: Tx) -> None:
        _, user, _, member = await _target(tx, ctx, key)
        await guard.require(tx, "inviteMember", user, member)
        if (
            await repo.get(tx, "users", {"service_sid": ctx.service_sid, "identity": identity})
            is None
        ):
            raise TwilioError(50200, identity=identity)

    async def act(tx: Tx, replacements: dict[str, str]) -> Row:
        service, _, channel, _ = await _target(tx, ctx, key)
        target = await repo.get(tx, "users", {"service_sid": ctx.service_sid, "identity": identity})
        assert target is not None
        return await invites.create(tx, service, channel, target, ctx.origin)

    row = await ctx.perform(_no_pre(check), act)
    return Response(201, {"sid": row["sid"], "identity": row["identity"]})


def _no_pre(check: Check) -> PreCheck:
    async def wrapped(tx: Tx) -> PreEvent | None:
        await check(tx)
        return None  # invites have no webhook (HELPERS.md event contract)

    return wrapped


async def decline(request: Request) -> Response:
    """DELETE …/Invites/{identity}: the invited user declines."""
    ctx = Ctx.of(request)
    key = request.path_params["channel"]
    if request.path_params["identity"] != ctx.identity:
        raise TwilioError(50107)

    async def check(tx: Tx) -> None:
        await _target(tx, ctx, key)

    async def act(tx: Tx, replacements: dict[str, str]) -> None:
        _, _, channel, _ = await _target(tx, ctx, key)
        found = await repo.get(
            tx, "invites", {"channel_sid": channel["sid"], "identity": ctx.identity}
        )
        if found is None:
            raise TwilioError(20404, path=request.path)
        await invites.remove(tx, found, ctx.origin, reason="declined")

    await ctx.perform(_no_pre(check), act)
    return Response(204)


def register(routes: Routes) -> None:
    base = "/Client/v1/Services/{service}/Conversations/{channel}"
    routes.add("POST", base + "/Participants", add)
    routes.add("POST", base + "/Participants/{member}", update)
    routes.add("DELETE", base + "/Participants/{member}", remove)
    routes.add("POST", base + "/Invites", invite)
    routes.add("DELETE", base + "/Invites/{identity}", decline)
