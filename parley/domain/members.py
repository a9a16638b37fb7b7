"""Members: one user identity in one channel (docs/behaviour.md §R4).

``add`` is shared by REST (``POST …/Members``), invite acceptance and the
client SDK's join/add; ``remove`` by REST, user-channel delete, leave and
kick. Counters move with the row, in the same transaction (docs/behaviour.md §R13):

::

    add:    take(channel.members_count)       >= limits.channel_members -> 50403
            take(user.joined_channels_count)  >= limits.user_channels   -> 50208
            insert member (UNIQUE channel+identity -> 50404)
            pending invite of that identity -> removed (fulfilled)
    remove: delete member, both counters - 1

``take`` locks the counter's row until commit, so the limits hold under
concurrent writers on PostgreSQL as well as SQLite.
"""

from collections.abc import Mapping, Sequence
from typing import Any, TypedDict, cast

from parley import sids, timefmt
from parley.domain import channels, invites, roles, services, users
from parley.errors import TwilioError
from parley.events import Origin, emit
from parley.sids import AccountSid, ChannelSid, MemberSid, RoleSid, ServiceSid, UserSid
from parley.store import Row, Tx, UniqueViolation, repo

TABLE = "members"
"""For the generic REST lookups and pagers (``api/scope.py``, ``Call.listing``)."""

ADDED = "ADDED"  # added by someone else (REST, addMember)
JOINED = "JOINED"  # the user joined by itself
REMOVED = "REMOVED"
LEFT = "LEFT"


class Member(TypedDict):
    """A row of ``members``, the table this module owns: other modules read it
    through the queries below."""

    seq: int
    sid: MemberSid
    account_sid: AccountSid
    service_sid: ServiceSid
    channel_sid: ChannelSid
    user_sid: UserSid
    identity: str
    role_sid: RoleSid | None
    attributes: str | None
    last_consumed_message_index: int | None
    last_consumption_timestamp: int | None  # microseconds
    notification_level: str
    date_created: int
    date_updated: int | None


# what the write functions take: a typed row, or one read by the generic
# repository (the REST layer's scope lookups)
MemberRow = Member | Row


def _member(row: Row | None) -> Member | None:
    return cast(Member, row) if row is not None else None


async def find(tx: Tx, channel: channels.ChannelRow, key: str) -> Member | None:
    """A member of this channel by SID or identity (docs/behaviour.md §R1)."""
    if sids.looks_like(sids.MEMBER, key):
        where = {"sid": sids.normalise(key), "channel_sid": channel["sid"]}
        return _member(await repo.get(tx, TABLE, where))
    return await by_identity(tx, channel["sid"], key)


async def by_identity(tx: Tx, channel_sid: str, identity: str) -> Member | None:
    where = {"channel_sid": channel_sid, "identity": identity}
    return _member(await repo.get(tx, TABLE, where))


async def sids_of(tx: Tx, channel_sid: str, identities: Sequence[str]) -> dict[str, str]:
    """The member SIDs of these identities in the channel, by identity (the
    Sync view's message items carry their author's, docs/decisions.md §45)."""
    if not identities:
        return {}
    marks, bound = repo.in_list(sorted(set(identities)), "i")
    rows = await tx.all(
        f"SELECT identity, sid FROM members WHERE channel_sid = :c AND identity IN ({marks})",
        {"c": channel_sid, **bound},
    )
    return {row["identity"]: row["sid"] for row in rows}


async def by_sid(tx: Tx, member_sid: str) -> Member | None:
    return _member(await repo.get(tx, TABLE, {"sid": member_sid}))


async def of_service(tx: Tx, service_sid: str) -> list[Member]:
    """Every member of every channel of the service, in the order they joined."""
    return [cast(Member, r) for r in await repo.select(tx, TABLE, {"service_sid": service_sid})]


async def of_user(tx: Tx, channel_sid: str, user_sid: str) -> Member | None:
    """The user's membership of the channel, if it has one."""
    where = {"channel_sid": channel_sid, "user_sid": user_sid}
    return _member(await repo.get(tx, TABLE, where))


async def in_channel(tx: Tx, channel_sid: str) -> list[Member]:
    """The channel's members, in the order they joined."""
    return [cast(Member, r) for r in await repo.select(tx, TABLE, {"channel_sid": channel_sid})]


async def of_user_everywhere(tx: Tx, user_sid: str) -> list[Member]:
    """Every membership of the user, in the order it joined."""
    return [cast(Member, r) for r in await repo.select(tx, TABLE, {"user_sid": user_sid})]


async def page_of_user(
    tx: Tx,
    user_sid: str,
    *,
    after: Any = None,
    before: Any = None,
    descending: bool = False,
    limit: int,
) -> list[Member]:
    """A keyset page of the user's memberships by ``seq`` (``repo.page``)."""
    rows = await repo.page(
        tx,
        TABLE,
        {"user_sid": user_sid},
        after=after,
        before=before,
        descending=descending,
        limit=limit,
    )
    return [cast(Member, r) for r in rows]


async def _channel_role(tx: Tx, service: services.Service, role_sid: str | None) -> str:
    if role_sid is None:
        return str(service["default_channel_role_sid"])
    await roles.require(tx, service, role_sid, roles.CHANNEL, "RoleSid")
    return role_sid


def _horizon(values: Mapping[str, Any], changes: dict[str, Any]) -> None:
    """Setting the consumed index without a timestamp stamps now
    (docs/behaviour.md §R4 "Update", docs/decisions.md §29)."""
    if (
        values.get("last_consumed_message_index") is not None
        and "last_consumption_timestamp" not in values
    ):
        changes["last_consumption_timestamp"] = timefmt.now()


async def invite(
    tx: Tx,
    service: services.Service,
    channel: channels.ChannelRow,
    user: users.UserRow,
    origin: Origin,
    role_sid: str | None = None,
) -> Row:
    """Invite an existing user (the caller resolves the identity: REST answers
    an unknown one with 20404, docs/decisions.md §26). A member cannot be
    invited (50404, docs/decisions.md §27); a second invite is 50212."""
    role_sid = await _channel_role(tx, service, role_sid)
    if await by_identity(tx, channel["sid"], user["identity"]) is not None:
        raise TwilioError(50404, identity=user["identity"])
    return await invites.create(tx, service, channel, user, origin, role_sid)


async def invite_to_join(
    tx: Tx, channel: channels.ChannelRow, identity: str
) -> invites.Invite | None:
    """Whether ``identity`` may join ``channel`` by itself, and the invite it
    would accept: a public channel is open to anyone; a private one only with
    an invite (50107) (docs/behaviour.md, "Roles")."""
    invite = await invites.pending(tx, channel["sid"], identity)
    if channel["type"] != channels.PUBLIC and invite is None:
        raise TwilioError(50107)
    return invite


async def join(
    tx: Tx,
    service: services.Service,
    channel: channels.ChannelRow,
    identity: str,
    origin: Origin,
    values: Mapping[str, Any] | None = None,
) -> Row:
    """``identity`` joins by itself: a private channel needs an invite, whose
    role applies unless ``values`` names one (the invite is fulfilled by the
    join) (docs/behaviour.md, "Roles")."""
    values = dict(values or {})
    invite = await invite_to_join(tx, channel, identity)
    if invite is not None and values.get("role_sid") is None:
        values["role_sid"] = invite["role_sid"]
    return await add(tx, service, channel, identity, origin, values, JOINED)


async def join_as_creator(
    tx: Tx,
    service: services.Service,
    channel: channels.ChannelRow,
    identity: str,
    origin: Origin,
) -> Row:
    """A client that creates a channel joins it with the service's channel
    creator role (a channel made through REST joins nobody) (docs/behaviour.md,
    "Roles")."""
    role = service["default_channel_creator_role_sid"]
    return await add(tx, service, channel, identity, origin, {"role_sid": role}, JOINED)


async def add(
    tx: Tx,
    service: services.Service,
    channel: channels.ChannelRow,
    identity: str,
    origin: Origin,
    values: Mapping[str, Any] | None = None,
    reason: str = ADDED,
) -> Row:
    """Make ``identity`` a member of ``channel``; the user is created with the
    service defaults when it does not exist yet (docs/behaviour.md §R4.1).

    ``values`` by column name: role_sid, attributes, last_consumed_message_index,
    last_consumption_timestamp, date_created, date_updated.
    """
    values = values or {}
    users.check_identity(identity)
    role_sid = await _channel_role(tx, service, values.get("role_sid"))
    if await find(tx, channel, identity) is not None:
        raise TwilioError(50404, identity=identity)
    user, _ = await users.get_or_create(tx, service, identity, origin)

    limit = service["limits_channel_members"]
    if await channels.take_member_slot(tx, channel["sid"]) >= limit:
        raise TwilioError(50403, limit=limit)
    limit = service["limits_user_channels"]
    if await users.take_channel_slot(tx, user["sid"]) >= limit:
        raise TwilioError(50208, limit=limit)

    row: Row = {
        "sid": sids.new_sid(sids.MEMBER),
        "account_sid": service["account_sid"],
        "service_sid": service["sid"],
        "channel_sid": channel["sid"],
        "user_sid": user["sid"],
        "identity": identity,
        "role_sid": role_sid,
        "attributes": values.get("attributes"),
        "last_consumed_message_index": values.get("last_consumed_message_index"),
        "last_consumption_timestamp": values.get("last_consumption_timestamp"),
        "notification_level": "default",
        "date_created": values.get("date_created") or timefmt.now(),
        "date_updated": values.get("date_updated"),
    }
    _horizon(values, row)
    try:
        await repo.insert(tx, TABLE, row)
    except UniqueViolation:  # a concurrent add of the same identity won
        raise TwilioError(50404, identity=identity) from None
    await invites.fulfil(tx, channel, identity, origin)
    await emit(tx, origin, "onMemberAdded", row, reason=reason)
    return row


async def update(
    tx: Tx,
    service: services.Service,
    channel: channels.ChannelRow,
    member: MemberRow,
    values: Mapping[str, Any],
    origin: Origin,
) -> Row:
    """Partial update: role_sid, attributes, the consumption horizon (stored as
    given, docs/decisions.md §29), import dates. ``date_updated`` becomes now
    unless given."""
    changes = dict(values)
    if "role_sid" in changes:
        changes["role_sid"] = await _channel_role(tx, service, changes["role_sid"])
    _horizon(values, changes)
    changes["date_updated"] = changes.get("date_updated") or timefmt.now()
    await repo.update(tx, TABLE, {"sid": member["sid"]}, changes)
    updated = {**member, **changes}
    await emit(tx, origin, "onMemberUpdated", updated)
    return updated


async def remove(
    tx: Tx,
    service: services.Service,
    channel: channels.ChannelRow,
    member: MemberRow,
    origin: Origin,
    reason: str = REMOVED,
) -> None:
    """End a membership; the user and the member's messages stay."""
    if await repo.delete(tx, TABLE, {"sid": member["sid"]}) == 0:
        return  # already gone (a concurrent removal): counters were moved by it
    await channels.release_member_slot(tx, channel["sid"])
    await users.release_channel_slot(tx, member["user_sid"])
    await emit(tx, origin, "onMemberRemoved", dict(member), reason=reason)


async def forget_service(tx: Tx, service_sid: str) -> None:
    """Every membership of a service being deleted (``service_delete.delete``): no events."""
    await repo.delete(tx, TABLE, {"service_sid": service_sid})


async def forget_channel(tx: Tx, channel_sid: str) -> None:
    """Every membership of a channel being deleted (``channel_delete.delete``): each
    user's ``joined_channels_count`` - 1, no events."""
    for member in await in_channel(tx, channel_sid):
        await users.release_channel_slot(tx, member["user_sid"])
    await repo.delete(tx, TABLE, {"channel_sid": channel_sid})


async def holding_role(tx: Tx, role_sid: str) -> bool:
    """Whether any member holds the role (``role_delete``)."""
    return await repo.get(tx, TABLE, {"role_sid": role_sid}) is not None


async def unread_totals(tx: Tx, user_sids: Sequence[str]) -> dict[str, int]:
    """Each user's unread messages over all its channels: the messages above
    its horizon in each, every message where it has read nothing
    (docs/push.md, "Badge"). One statement per 500 users; it reads the
    channels' ``messages_count`` and the messages above each horizon in its
    join, declared in ``store/tables.py`` ``JOINS``: what it counts is the
    memberships' consumption."""
    totals: dict[str, int] = {}
    for start in range(0, len(user_sids), 500):
        chunk = user_sids[start : start + 500]
        marks, bound = repo.in_list(chunk, "u")
        rows = await tx.all(
            "SELECT m.user_sid AS u, SUM(CASE WHEN m.last_consumed_message_index IS NULL"
            " THEN c.messages_count ELSE (SELECT COUNT(*) FROM messages x"
            " WHERE x.channel_sid = m.channel_sid AND x.idx > m.last_consumed_message_index)"
            " END) AS unread"
            " FROM members m JOIN channels c ON c.sid = m.channel_sid"
            f" WHERE m.user_sid IN ({marks})"
            " GROUP BY m.user_sid",
            bound,
        )
        totals.update({r["u"]: int(r["unread"] or 0) for r in rows})
    return totals
