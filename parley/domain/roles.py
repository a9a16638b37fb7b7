"""Roles and permissions (docs/behaviour.md §A).

Two scopes: ``deployment`` roles are held by users, ``channel`` roles by members
and invites. Every new service gets the four default roles of docs/behaviour.md §A3.
"""

from typing import Any

import orjson

from parley import sids, timefmt
from parley.errors import TwilioError
from parley.store import Row, Tx, repo

DEPLOYMENT = "deployment"
CHANNEL = "channel"

# docs/behaviour.md §A2
DEPLOYMENT_PERMISSIONS = frozenset(
    {
        "createChannel",
        "joinChannel",
        "destroyChannel",
        "editChannelName",
        "editChannelAttributes",
        "addMember",
        "inviteMember",
        "removeMember",
        "editAnyMessage",
        "editAnyMessageAttributes",
        "deleteAnyMessage",
        "editAnyMemberAttributes",
        "editOwnUserInfo",
        "editAnyUserInfo",
    }
)

# docs/behaviour.md §A2 (editNotificationLevel accepted: docs/decisions.md §34)
CHANNEL_PERMISSIONS = frozenset(
    {
        "sendMessage",
        "sendMediaMessage",
        "leaveChannel",
        "editOwnMessage",
        "editOwnMessageAttributes",
        "deleteOwnMessage",
        "editAnyMessage",
        "editAnyMessageAttributes",
        "deleteAnyMessage",
        "editOwnMemberAttributes",
        "editAnyMemberAttributes",
        "addMember",
        "inviteMember",
        "removeMember",
        "editChannelName",
        "editChannelAttributes",
        "destroyChannel",
        "editNotificationLevel",
    }
)

PERMISSIONS = {DEPLOYMENT: DEPLOYMENT_PERMISSIONS, CHANNEL: CHANNEL_PERMISSIONS}

# docs/behaviour.md §A3: name, type, permissions in Twilio's order, and the service
# field that points at it.
DEFAULT_ROLES: tuple[tuple[str, str, tuple[str, ...], str | None], ...] = (
    (
        "service admin",
        DEPLOYMENT,
        (
            "createChannel",
            "joinChannel",
            "destroyChannel",
            "editChannelAttributes",
            "editChannelName",
            "addMember",
            "inviteMember",
            "removeMember",
            "editAnyMemberAttributes",
            "editAnyMessage",
            "deleteAnyMessage",
            "editAnyMessageAttributes",
            "editAnyUserInfo",
        ),
        None,
    ),
    (
        "service user",
        DEPLOYMENT,
        ("createChannel", "joinChannel", "editOwnUserInfo"),
        "default_service_role_sid",
    ),
    (
        "channel admin",
        CHANNEL,
        (
            "sendMessage",
            "sendMediaMessage",
            "leaveChannel",
            "editNotificationLevel",
            "destroyChannel",
            "inviteMember",
            "removeMember",
            "editChannelName",
            "editChannelAttributes",
            "addMember",
            "editAnyMemberAttributes",
            "editAnyMessage",
            "editAnyMessageAttributes",
            "deleteAnyMessage",
        ),
        "default_channel_creator_role_sid",
    ),
    (
        "channel user",
        CHANNEL,
        (
            "sendMessage",
            "sendMediaMessage",
            "leaveChannel",
            "editNotificationLevel",
            "editOwnMemberAttributes",
            "editOwnMessage",
            "editOwnMessageAttributes",
            "deleteOwnMessage",
        ),
        "default_channel_role_sid",
    ),
)


def check_permissions(kind: str, permissions: list[str]) -> list[str]:
    """Each permission must exist for the role's type (50104); duplicates dropped."""
    allowed = PERMISSIONS[kind]
    unique: list[str] = []
    for permission in permissions:
        if permission not in allowed:
            raise TwilioError(50104, value=permission, kind=kind)
        if permission not in unique:
            unique.append(permission)
    return unique


def new_row(
    account_sid: str, service_sid: str, name: str | None, kind: str, permissions: list[str]
) -> Row:
    return {
        "sid": sids.new_sid(sids.ROLE),
        "account_sid": account_sid,
        "service_sid": service_sid,
        "friendly_name": name,
        "type": kind,
        "permissions": orjson.dumps(check_permissions(kind, permissions)).decode(),
        "date_created": timefmt.now(),
        "date_updated": None,
    }


async def create_defaults(tx: Tx, account_sid: str, service_sid: str) -> dict[str, str]:
    """The four default roles; returns the service fields that point at them."""
    pointers: dict[str, str] = {}
    for name, kind, permissions, pointer in DEFAULT_ROLES:
        row = new_row(account_sid, service_sid, name, kind, list(permissions))
        await repo.insert(tx, "roles", row)
        if pointer:
            pointers[pointer] = row["sid"]
    return pointers


async def create(tx: Tx, service: Row, values: dict[str, Any]) -> Row:
    row = new_row(
        service["account_sid"],
        service["sid"],
        values["friendly_name"],
        values["type"],
        values["permissions"],
    )
    await repo.insert(tx, "roles", row)
    return row


async def update(tx: Tx, role: Row, values: dict[str, Any]) -> Row:
    """``Permission`` replaces the whole set (docs/behaviour.md §A6)."""
    changes = {
        "permissions": orjson.dumps(
            check_permissions(role["type"], values["permissions"])
        ).decode(),
        "date_updated": timefmt.now(),
    }
    await repo.update(tx, "roles", {"sid": role["sid"]}, changes)
    return {**role, **changes}


async def delete(tx: Tx, service: Row, role: Row) -> None:
    """Refused while anything references the role (docs/behaviour.md §A7)."""
    sid = role["sid"]
    for pointer in (
        "default_service_role_sid",
        "default_channel_role_sid",
        "default_channel_creator_role_sid",
    ):
        if service[pointer] == sid:
            raise _in_use(f"it is the service's {pointer}")
    for table, what in (("users", "a user"), ("members", "a member"), ("invites", "an invite")):
        if await repo.get(tx, table, {"role_sid": sid}):
            raise _in_use(f"{what} holds it")
    await repo.delete(tx, "roles", {"sid": sid})


def _in_use(detail: str) -> TwilioError:
    # docs/decisions.md §35: Twilio's code is unpublished; the 50100 family.
    return TwilioError(50100, message=f"Role is in use: {detail}")


async def require(tx: Tx, service: Row, sid: str, kind: str, wire: str) -> Row:
    """A role named in a request body: it must exist in this service with this
    type (50100 for service roles, 50101 for channel roles, docs/behaviour.md §A1)."""
    code = 50101 if kind == CHANNEL else 50100
    role = await repo.get(tx, "roles", {"sid": sid, "service_sid": service["sid"]})
    if role is None:
        raise TwilioError(code, detail=f"{wire} {sid} is not a role of this service")
    if role["type"] != kind:
        raise TwilioError(code, detail=f"{wire} {sid} is a {role['type']} role, not a {kind} role")
    return role
