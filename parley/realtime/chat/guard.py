"""Role checks for client actions (docs/behaviour.md §A5).

An action is allowed when a role in one of its scopes holds the permission:
the user's deployment role (``user``) and/or the member's channel role
(``member``). Refusal is 50107; a non-member acting on a channel where only the
member scope counts is 50400.
"""

from parley.domain import channels, members, roles, services, users
from parley.errors import TwilioError
from parley.store import Row, Tx

MEMBER = "member"
USER = "user"
EITHER = (MEMBER, USER)

# docs/behaviour.md §A5: action permission -> scopes checked
SCOPES: dict[str, tuple[str, ...]] = {
    "createChannel": (USER,),
    "joinChannel": (USER,),
    "leaveChannel": (MEMBER,),
    "sendMessage": (MEMBER,),
    "sendMediaMessage": (MEMBER,),
    "editOwnMessage": (MEMBER,),
    "editOwnMessageAttributes": (MEMBER,),
    "editAnyMessage": EITHER,
    "editAnyMessageAttributes": EITHER,
    "deleteOwnMessage": (MEMBER,),
    "deleteAnyMessage": EITHER,
    "addMember": EITHER,
    "inviteMember": EITHER,
    "removeMember": EITHER,
    "editChannelName": EITHER,
    "editChannelAttributes": EITHER,
    "destroyChannel": EITHER,
    "editOwnMemberAttributes": (MEMBER,),
    "editAnyMemberAttributes": EITHER,
    "editOwnUserInfo": (USER,),
    "editAnyUserInfo": (USER,),
    "editNotificationLevel": (MEMBER,),
}


async def _holds(tx: Tx, role_sid: str | None, permission: str) -> bool:
    if role_sid is None:
        return False
    role = await roles.by_sid(tx, role_sid)
    return role is not None and roles.permits(role, permission)


async def _allows(
    tx: Tx, permission: str, user: users.UserRow, member: members.MemberRow | None
) -> bool:
    scopes = SCOPES[permission]
    if USER in scopes and await _holds(tx, user.get("role_sid"), permission):
        return True
    return (
        MEMBER in scopes
        and member is not None
        and await _holds(tx, member.get("role_sid"), permission)
    )


async def require(
    tx: Tx, permission: str, user: users.UserRow, member: members.MemberRow | None = None
) -> None:
    """Raise 50107 (or 50400 for a non-member) unless a scope allows it."""
    await require_one(tx, (permission,), user, member)


async def require_one(
    tx: Tx,
    permissions: tuple[str, ...],
    user: users.UserRow,
    member: members.MemberRow | None = None,
) -> None:
    """Any of the permissions will do: acting on one's own message or member is
    also allowed by the ``…Any…`` permission (the default channel admin role
    holds ``editAnyMessage`` but not ``editOwnMessage``, docs/behaviour.md §A3)."""
    for permission in permissions:
        if await _allows(tx, permission, user, member):
            return
    if member is None and all(USER not in SCOPES[p] for p in permissions):
        raise TwilioError(50400)
    raise TwilioError(50107)


def own_or_any(own: bool, own_permission: str, any_permission: str) -> tuple[str, ...]:
    return (own_permission, any_permission) if own else (any_permission,)


async def member_of(
    tx: Tx, channel: channels.ChannelRow, user: users.UserRow
) -> members.Member | None:
    return await members.of_user(tx, channel["sid"], user["sid"])


async def members_channel(tx: Tx, service: services.Service, user: users.UserRow, key: str) -> Row:
    """The channel named by ``key`` (SID or unique name), for an action only its
    members may take: 50300 when there is no such channel, 50400 when the
    caller is not a member."""
    channel = await channels.find(tx, service, key)
    if channel is None:
        raise TwilioError(50300, detail=key)
    if await member_of(tx, channel, user) is None:
        raise TwilioError(50400)
    return channel
