"""Invites: a pending invitation of a user to a channel (docs/behaviour.md §R6).

No webhook reports invites: their events are ``parley.invite.created`` and
``parley.invite.deleted`` (docs/behaviour.md §E event contract). An invite is removed when
it is cancelled and when its identity becomes a member (fulfilled).
"""

from typing import Any, TypedDict, cast

from parley import sids, timefmt
from parley.domain import channels, services, users
from parley.errors import TwilioError
from parley.events import Origin, emit
from parley.sids import AccountSid, ChannelSid, InviteSid, RoleSid, ServiceSid
from parley.store import Row, Tx, UniqueViolation, repo

TABLE = "invites"
"""For the generic REST lookups and pager (``api/scope.py``, ``Call.listing``)."""

SYSTEM = "system"  # created_by of REST invites (docs/decisions.md §28)


class Invite(TypedDict):
    """A row of ``invites``, the table this module owns: other modules read it
    through ``pending`` and ``of_identity``."""

    seq: int
    sid: InviteSid
    account_sid: AccountSid
    service_sid: ServiceSid
    channel_sid: ChannelSid
    identity: str
    role_sid: RoleSid | None
    created_by: str | None
    date_created: int
    date_updated: int | None


InviteRow = Invite | Row


async def pending(tx: Tx, channel_sid: str, identity: str) -> Invite | None:
    """The identity's pending invite to the channel, if it has one."""
    where = {"channel_sid": channel_sid, "identity": identity}
    row = await repo.get(tx, TABLE, where)
    return cast(Invite, row) if row is not None else None


async def of_channel(tx: Tx, channel_sid: str) -> list[Invite]:
    """The channel's pending invites, oldest first."""
    return [cast(Invite, r) for r in await repo.select(tx, TABLE, {"channel_sid": channel_sid})]


async def of_service(tx: Tx, service_sid: str) -> list[Invite]:
    """Every pending invite of the service, oldest first."""
    return [cast(Invite, r) for r in await repo.select(tx, TABLE, {"service_sid": service_sid})]


async def of_identity(tx: Tx, service_sid: str, identity: str) -> list[Invite]:
    """Every pending invite of the identity in the service, oldest first."""
    where = {"service_sid": service_sid, "identity": identity}
    return [cast(Invite, r) for r in await repo.select(tx, TABLE, where)]


async def page_of_identity(
    tx: Tx, service_sid: str, identity: str, *, after: Any = None, before: Any = None, limit: int
) -> list[Invite]:
    """A keyset page of the identity's pending invites by ``seq`` (``repo.page``)."""
    where = {"service_sid": service_sid, "identity": identity}
    rows = await repo.page(tx, TABLE, where, after=after, before=before, limit=limit)
    return [cast(Invite, r) for r in rows]


async def create(
    tx: Tx,
    service: services.Service,
    channel: channels.ChannelRow,
    user: users.UserRow,
    origin: Origin,
    role_sid: str,
) -> Row:
    """The invite of a user who is not a member yet, with a role already
    checked: ``members.invite`` is the way in (it checks both). A second
    invite is 50212."""
    identity = user["identity"]
    if await pending(tx, channel["sid"], identity) is not None:
        raise TwilioError(50212, identity=identity)
    row: Row = {
        "sid": sids.new_sid(sids.INVITE),
        "account_sid": service["account_sid"],
        "service_sid": service["sid"],
        "channel_sid": channel["sid"],
        "identity": identity,
        "role_sid": role_sid,
        "created_by": origin.identity or SYSTEM,
        "date_created": timefmt.now(),
        "date_updated": None,
    }
    try:
        await repo.insert(tx, TABLE, row)
    except UniqueViolation:
        raise TwilioError(50212, identity=identity) from None
    await emit(tx, origin, "parley.invite.created", row)
    return row


async def remove(tx: Tx, invite: InviteRow, origin: Origin, reason: str = "cancelled") -> None:
    if await repo.delete(tx, TABLE, {"sid": invite["sid"]}):
        await emit(tx, origin, "parley.invite.deleted", dict(invite), reason=reason)


async def fulfil(tx: Tx, channel: channels.ChannelRow, identity: str, origin: Origin) -> None:
    """The identity became a member: its pending invite is done."""
    invite = await pending(tx, channel["sid"], identity)
    if invite is not None:
        await remove(tx, invite, origin, reason="accepted")


async def forget_service(tx: Tx, service_sid: str) -> None:
    """Every invite of a service being deleted (``service_delete.delete``): no events."""
    await repo.delete(tx, TABLE, {"service_sid": service_sid})


async def forget_channel(tx: Tx, channel_sid: str) -> None:
    """Every invite of a channel being deleted (``channel_delete.delete``): no events."""
    await repo.delete(tx, TABLE, {"channel_sid": channel_sid})


async def holding_role(tx: Tx, role_sid: str) -> bool:
    """Whether any invite holds the role (``role_delete``)."""
    return await repo.get(tx, TABLE, {"role_sid": role_sid}) is not None
