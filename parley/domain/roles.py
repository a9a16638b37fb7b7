"""Roles and permissions (docs/behaviour.md §A).

Two scopes: ``deployment`` roles are held by users, ``channel`` roles by members
and invites. Every new service gets the four default roles of docs/behaviour.md §A3.
"""

from typing import TYPE_CHECKING, Any, TypedDict, cast

import orjson

from parley import sids, timefmt
from parley.errors import TwilioError
from parley.sids import AccountSid, RoleSid, ServiceSid
from parley.store import Row, Tx, repo

if TYPE_CHECKING:  # services imports roles (its default roles, its role pointers)
    from parley.domain.services import Service

TABLE = "roles"
"""For the generic REST lookups and pager (``api/scope.py``, ``Call.listing``)."""


class Role(TypedDict):
    """A row of ``roles``, the table this module owns: other modules read it
    through the queries below."""

    seq: int
    sid: RoleSid
    account_sid: AccountSid
    service_sid: ServiceSid
    friendly_name: str | None
    type: str  # DEPLOYMENT or CHANNEL
    permissions: str  # a JSON list
    date_created: int
    date_updated: int | None


# what the write functions take: a typed row, or one read by the generic
# repository (the REST layer's scope lookups)
RoleRow = Role | Row


def _role(row: Row | None) -> Role | None:
    return cast(Role, row) if row is not None else None


async def by_sid(tx: Tx, role_sid: str) -> Role | None:
    return _role(await repo.get(tx, TABLE, {"sid": role_sid}))


async def by_name(tx: Tx, service_sid: str, friendly_name: str | None) -> Role | None:
    """The service's (first) role of this friendly name (seeds name roles)."""
    where = {"service_sid": service_sid, "friendly_name": friendly_name}
    return _role(await repo.get(tx, TABLE, where))


def permits(role: Role, permission: str) -> bool:
    """Whether the role grants ``permission``."""
    return permission in orjson.loads(role["permissions"])


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
        await repo.insert(tx, TABLE, row)
        if pointer:
            pointers[pointer] = row["sid"]
    return pointers


async def create(tx: Tx, service: "Service", values: dict[str, Any]) -> Row:
    row = new_row(
        service["account_sid"],
        service["sid"],
        values["friendly_name"],
        values["type"],
        values["permissions"],
    )
    await repo.insert(tx, TABLE, row)
    return row


async def update(tx: Tx, role: RoleRow, values: dict[str, Any]) -> Row:
    """``Permission`` replaces the whole set (docs/behaviour.md §A6)."""
    changes = {
        "permissions": orjson.dumps(
            check_permissions(role["type"], values["permissions"])
        ).decode(),
        "date_updated": timefmt.now(),
    }
    await repo.update(tx, TABLE, {"sid": role["sid"]}, changes)
    return {**role, **changes}


def check_not_a_default(service: "Service", role: RoleRow) -> None:
    """A role the service points at (its defaults) cannot be deleted
    (docs/behaviour.md §A7)."""
    for pointer in (
        "default_service_role_sid",
        "default_channel_role_sid",
        "default_channel_creator_role_sid",
    ):
        if service[pointer] == role["sid"]:
            raise in_use(f"it is the service's {pointer}")


async def delete_row(tx: Tx, role_sid: str) -> None:
    """Remove the role's row; the checks are ``domain/role_delete.py``'s."""
    await repo.delete(tx, TABLE, {"sid": role_sid})


def in_use(detail: str) -> TwilioError:
    # docs/decisions.md §35: Twilio's code is unpublished; the 50100 family.
    return TwilioError(50100, message=f"Role is in use: {detail}")


async def require(tx: Tx, service: "Service", sid: str, kind: str, wire: str) -> Row:
    """A role named in a request body: it must exist in this service with this
    type (50100 for service roles, 50101 for channel roles, docs/behaviour.md §A1)."""
    code = 50101 if kind == CHANNEL else 50100
    role = await repo.get(tx, TABLE, {"sid": sid, "service_sid": service["sid"]})
    if role is None:
        raise TwilioError(code, detail=f"{wire} {sid} is not a role of this service")
    if role["type"] != kind:
        raise TwilioError(code, detail=f"{wire} {sid} is a {role['type']} role, not a {kind} role")
    return role


async def forget_service(tx: Tx, service_sid: str) -> None:
    """Every role of a service being deleted (``service_delete.delete``): no events."""
    await repo.delete(tx, TABLE, {"service_sid": service_sid})
