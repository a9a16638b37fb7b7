"""User channels: a user's view of the channels it belongs to or is invited
to (docs/behaviour.md §R9). No table of their own: each is derived from a member row
(``joined``) or an invite (``invited``); writes go to the member through
``domain.members`` so counters and events stay those of a membership.

Listing pages through both sources with one cursor: memberships in creation
order, then invites in creation order. The cursor is the member's ``seq``, or
``INVITES + seq`` for an invite.

::

    cursor:  0 ... member seqs ...  | INVITES ... INVITES + invite seqs ...
"""

from typing import Any

from parley.domain import channels, invites, members, messages, services, users
from parley.errors import TwilioError
from parley.events import Origin
from parley.store import Row, Tx

JOINED = "joined"
INVITED = "invited"
INVITES = 1 << 48  # above any seq a table will reach
LEVELS = ("default", "muted")


async def unread(tx: Tx, service: services.Service, member: members.MemberRow) -> int | None:
    """Messages with an index above the horizon; null while the member has no
    horizon (docs/decisions.md §7, as Twilio's SDKs report) and when the
    service has read status off (docs/behaviour.md §P7, inferred)."""
    horizon = member["last_consumed_message_index"]
    if horizon is None or not service["read_status_enabled"]:
        return None
    return await messages.count_after(tx, member["channel_sid"], horizon)


async def joined(
    tx: Tx, service: services.Service, user: users.UserRow, member: members.MemberRow
) -> Row:
    return {
        "account_sid": member["account_sid"],
        "service_sid": member["service_sid"],
        "channel_sid": member["channel_sid"],
        "user_sid": user["sid"],
        "member_sid": member["sid"],
        "status": JOINED,
        "last_consumed_message_index": member["last_consumed_message_index"],
        "unread_messages_count": await unread(tx, service, member),
        "notification_level": member["notification_level"],
        "seq": member["seq"],
    }


def invited(user: users.UserRow, invite: invites.InviteRow) -> Row:
    return {
        "account_sid": invite["account_sid"],
        "service_sid": invite["service_sid"],
        "channel_sid": invite["channel_sid"],
        "user_sid": user["sid"],
        "member_sid": None,  # docs/behaviour.md §R9: null when only invited (inferred)
        "status": INVITED,
        "last_consumed_message_index": None,
        "unread_messages_count": None,
        "notification_level": "default",
        "seq": INVITES + invite["seq"],
    }


async def find(
    tx: Tx, service: services.Service, user: users.UserRow, channel: channels.ChannelRow
) -> tuple[members.MemberRow | None, invites.InviteRow | None]:
    """(member, invite) of this user in this channel; both None = not participating."""
    member = await members.of_user(tx, channel["sid"], user["sid"])
    if member is not None:
        return member, None
    return None, await invites.pending(tx, channel["sid"], user["identity"])


async def get(
    tx: Tx, service: services.Service, user: users.UserRow, channel: channels.ChannelRow
) -> Row | None:
    member, invite = await find(tx, service, user, channel)
    if member is not None:
        return await joined(tx, service, user, member)
    if invite is not None:
        return invited(user, invite)
    return None  # notParticipating: 404 (docs/decisions.md §31)


async def page(
    tx: Tx,
    service: services.Service,
    user: users.UserRow,
    *,
    after: Any,
    before: Any,
    limit: int,
) -> list[Row]:
    """Up to ``limit`` rows after (or before) a cursor, in list order."""
    service_sid, identity = service["sid"], user["identity"]  # whose invites
    found: list[Row] = []
    if before is None:
        if after is None or after < INVITES:
            for member in await members.page_of_user(tx, user["sid"], after=after, limit=limit):
                found.append(await joined(tx, service, user, member))
            invite_after = None
        else:
            invite_after = after - INVITES
        if len(found) < limit:
            rest = limit - len(found)
            rows = await invites.page_of_identity(
                tx, service_sid, identity, after=invite_after, limit=rest
            )
            found += [invited(user, row) for row in rows]
        return found
    # backwards: invites before the cursor, then the last memberships
    if before > INVITES:
        rows = await invites.page_of_identity(
            tx, service_sid, identity, before=before - INVITES, limit=limit
        )
        found = [invited(user, row) for row in rows]
        if len(found) < limit:
            tail = await members.page_of_user(
                tx, user["sid"], descending=True, limit=limit - len(found)
            )
            tail.reverse()
            found = [await joined(tx, service, user, m) for m in tail] + found
        return found
    memberships = await members.page_of_user(tx, user["sid"], before=before, limit=limit)
    return [await joined(tx, service, user, m) for m in memberships]


def reported(service: services.Service, values: dict[str, Any]) -> dict[str, Any]:
    """What a client's report of its channel state changes: its consumption
    horizon is ignored while the service has read status off
    (docs/behaviour.md, "Consumption")."""
    if service["read_status_enabled"]:
        return values
    return {k: v for k, v in values.items() if k != "last_consumed_message_index"}


async def update(
    tx: Tx,
    service: services.Service,
    user: users.UserRow,
    channel: channels.ChannelRow,
    values: dict[str, Any],
    origin: Origin,
) -> Row:
    """NotificationLevel and the consumption horizon, written to the member
    (the horizon rules are the member's, docs/behaviour.md §R9); only for a joined
    channel."""
    member, invite = await find(tx, service, user, channel)
    if member is None:
        if invite is None:
            raise LookupError(channel["sid"])
        raise TwilioError(50400)
    if values:
        member = await members.update(tx, service, channel, member, values, origin)
    return await joined(tx, service, user, member)


async def delete(
    tx: Tx,
    service: services.Service,
    user: users.UserRow,
    channel: channels.ChannelRow,
    origin: Origin,
) -> None:
    """Leave the channel: the member is removed as a member delete would
    (``onMemberRemoved``, counters - 1); a pending invite is declined."""
    member, invite = await find(tx, service, user, channel)
    if member is not None:
        await members.remove(tx, service, channel, member, origin)
    elif invite is not None:
        await invites.remove(tx, invite, origin, reason="declined")
    else:
        raise LookupError(channel["sid"])
