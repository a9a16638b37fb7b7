"""Join, leave, add, remove, member attributes, invite and decline: declared
client actions (the rules of who may join and with which role are
``parley.domain.members``')."""

from parley import sids
from parley.api import members as members_api
from parley.api import params
from parley.domain import invites, members, users
from parley.errors import TwilioError
from parley.realtime.chat.actions import Args, ClientAction, Target, Values, perform
from parley.realtime.chat.channels import in_channel
from parley.realtime.chat.context import Ctx
from parley.realtime.chat.guard import own_or_any
from parley.realtime.tunnel import Request, Response, Routes
from parley.store import Row, Tx

IDENTITY = (params.identity(),)
IDENTITY_FIELDS = {"identity": "Identity"}
MEMBER_FIELDS = {"attributes": "Attributes"}


def _joining(ctx: Ctx, values: Values) -> bool:
    return bool(values["identity"] == ctx.identity)


async def _may_add(tx: Tx, ctx: Ctx, target: Target, values: Values) -> None:
    if not _joining(ctx, values):
        return
    if target.member is not None:
        # already in: "Member already exists", private or public alike (also
        # the creator, who is joined on create; docs/realtime-protocol.md §7.3)
        raise TwilioError(50404, identity=ctx.identity)
    await members.invite_to_join(tx, target.channel_row, ctx.identity)


async def _add(tx: Tx, ctx: Ctx, target: Target, values: Values) -> Row:
    identity = values["identity"]
    extra = {k: v for k, v in values.items() if k != "identity"}
    service, channel = target.service, target.channel_row
    if _joining(ctx, values):
        return await members.join(tx, service, channel, identity, ctx.origin, extra)
    return await members.add(tx, service, channel, identity, ctx.origin, extra, members.ADDED)


ADD = ClientAction(
    name="addMember",
    params=IDENTITY,
    fields=IDENTITY_FIELDS,
    resolve=in_channel,
    refuse=_may_add,
    # the caller itself joins (joinChannel), anyone else is added (addMember)
    permissions=lambda ctx, t, values: [
        ("joinChannel",) if _joining(ctx, values) else ("addMember",)
    ],
    pre_event=lambda values: "onMemberAdd",
    pre_params=lambda ctx, t, values: {
        "ChannelSid": t.channel_row["sid"],
        "Identity": values["identity"],
    },
    replace_params=members_api.UPDATE,
    replace_fields=MEMBER_FIELDS,
    extra_replacements={"roleSid": "role_sid"},
    run=_add,
)


async def _with_member(tx: Tx, ctx: Ctx, args: Args) -> Target:
    target = await in_channel(tx, ctx, args)
    key = args["member"]
    found = await members.find(tx, target.channel_row, key)
    if found is None:
        raise TwilioError(50400 if not sids.looks_like(sids.MEMBER, key) else 20404, path=key)
    target.subject = dict(found)
    return target


def _own(ctx: Ctx, target: Target) -> bool:
    return bool(target.subject_row["identity"] == ctx.identity)


async def _remove(tx: Tx, ctx: Ctx, target: Target, values: Values) -> None:
    reason = members.LEFT if _own(ctx, target) else members.REMOVED
    await members.remove(
        tx, target.service, target.channel_row, target.subject_row, ctx.origin, reason
    )


REMOVE = ClientAction(
    name="removeMember",
    resolve=_with_member,
    # leave (leaveChannel) or remove someone else (removeMember)
    permissions=lambda ctx, t, values: [("leaveChannel",) if _own(ctx, t) else ("removeMember",)],
    pre_event=lambda values: "onMemberRemove",
    pre_params=lambda ctx, t, values: {
        "ChannelSid": t.channel_row["sid"],
        "MemberSid": t.subject_row["sid"],
        "Identity": t.subject_row["identity"],
    },
    run=_remove,
)


def _member_pre(ctx: Ctx, target: Target, values: Values) -> dict[str, str]:
    pre = {"ChannelSid": target.channel_row["sid"], "MemberSid": target.subject_row["sid"]}
    if values.get("attributes") is not None:
        pre["Attributes"] = str(values["attributes"])
    return pre


async def _update(tx: Tx, ctx: Ctx, target: Target, values: Values) -> Row:
    return await members.update(
        tx, target.service, target.channel_row, target.subject_row, values, ctx.origin
    )


UPDATE = ClientAction(
    name="updateMember",
    params=members_api.UPDATE,
    fields=MEMBER_FIELDS,
    resolve=_with_member,
    permissions=lambda ctx, t, values: [
        own_or_any(_own(ctx, t), "editOwnMemberAttributes", "editAnyMemberAttributes")
    ],
    pre_event=lambda values: "onMemberUpdate",
    pre_params=_member_pre,
    run=_update,
)


async def _invitee(tx: Tx, ctx: Ctx, identity: str) -> users.UserRow | None:
    return await users.by_identity(tx, ctx.service_sid, identity)


async def _invite(tx: Tx, ctx: Ctx, target: Target, values: Values) -> Row:
    invitee = await _invitee(tx, ctx, values["identity"])
    if invitee is None:
        raise TwilioError(50200, identity=values["identity"])
    return await members.invite(tx, target.service, target.channel_row, invitee, ctx.origin)


# invites have no webhook (they are not among Twilio's pre-events)
INVITE = ClientAction(
    name="inviteMember",
    params=IDENTITY,
    fields=IDENTITY_FIELDS,
    resolve=in_channel,
    permissions=lambda ctx, t, values: [("inviteMember",)],
    run=_invite,
)


async def _with_invite(tx: Tx, ctx: Ctx, args: Args) -> Target:
    target = await in_channel(tx, ctx, args)
    found = await invites.pending(tx, target.channel_row["sid"], ctx.identity)
    if found is None:
        raise TwilioError(20404, path=args.get("path", f"Invites/{ctx.identity}"))
    target.subject = dict(found)
    return target


async def _decline(tx: Tx, ctx: Ctx, target: Target, values: Values) -> None:
    await invites.remove(tx, target.subject_row, ctx.origin, reason="declined")


DECLINE = ClientAction(name="declineInvite", resolve=_with_invite, run=_decline)


ACTIONS = (ADD, REMOVE, UPDATE, INVITE, DECLINE)


def _member_body(member: members.MemberRow) -> dict[str, str]:
    return {"sid": member["sid"], "identity": member["identity"]}


async def add(request: Request) -> Response:
    """POST …/Participants {identity}."""
    member = await perform(ADD, Ctx.of(request), request.path_params, request.form())
    return Response(201, _member_body(member))


async def remove(request: Request) -> Response:
    """DELETE …/Participants/{identity|MB}."""
    await perform(REMOVE, Ctx.of(request), request.path_params)
    return Response(204)


async def update(request: Request) -> Response:
    """POST …/Participants/{MB} {attributes}."""
    member = await perform(UPDATE, Ctx.of(request), request.path_params, request.form())
    return Response(200, _member_body(member))


async def invite(request: Request) -> Response:
    row = await perform(INVITE, Ctx.of(request), request.path_params, request.form())
    return Response(201, _member_body(row))


async def decline(request: Request) -> Response:
    """DELETE …/Invites/{identity}: the invited user declines."""
    ctx = Ctx.of(request)
    if request.path_params["identity"] != ctx.identity:
        raise TwilioError(50107)
    await perform(DECLINE, ctx, {**request.path_params, "path": request.path})
    return Response(204)


def register(routes: Routes) -> None:
    base = "/Client/v1/Services/{service}/Conversations/{channel}"
    routes.add("POST", base + "/Participants", add)
    routes.add("POST", base + "/Participants/{member}", update)
    routes.add("DELETE", base + "/Participants/{member}", remove)
    routes.add("POST", base + "/Invites", invite)
    routes.add("DELETE", base + "/Invites/{identity}", decline)
