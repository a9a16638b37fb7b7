"""Deleting a user: a cascade over the modules that hang off its identity
(members, invites, bindings), above them all, so none of them imports another
to reach it."""

from parley.domain import bindings, channels, invites, members, services, users
from parley.events import Origin, emit
from parley.store import Tx


async def delete(tx: Tx, service: services.Service, user: users.UserRow, origin: Origin) -> None:
    """Delete a user and what hangs off its identity (docs/behaviour.md §R8,
    docs/decisions.md §32): every membership through ``members.remove`` (each
    channel's ``members_count`` - 1, ``onMemberRemoved``), its pending invites
    (``parley.invite.deleted``), its bindings (``parley.binding.deleted``), then
    the user (``parley.user.deleted``, payload = the row before). Messages it
    wrote stay, ``from`` unchanged.

    The cascade's events are recorded as Parley's own (source ``system``) with
    webhooks off: only the call's own object is reported to webhooks
    (docs/decisions.md §32: no per-membership webhooks).
    """
    cascade = Origin("system", False, origin.identity)
    for member in await members.of_user_everywhere(tx, user["sid"]):
        channel = await channels.by_sid(tx, member["channel_sid"])
        if channel is not None:
            await members.remove(tx, service, channel, member, cascade)
    for invite in await invites.of_identity(tx, service["sid"], user["identity"]):
        await invites.remove(tx, invite, cascade, reason="user deleted")
    await bindings.delete_all(tx, user, cascade)
    await users.delete_row(tx, user["sid"])
    await emit(tx, origin, "parley.user.deleted", user)
