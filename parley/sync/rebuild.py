"""Rebuild the Sync view of an account (or one service) from the stored rows.

The projector (``projection.py``) keeps the view in step with domain events,
but rows written without events (a state dump loaded by ``parley import`` or
``POST /parley/v1/seed``) have no Sync objects. ``rebuild`` computes what every
object should hold from the rows, with the projector's own shape functions,
and reconciles each object with it::

    services ─┬─ channels ──> {CH}.roster map; {CH}.channel document and
              │               {CH}.messages list made if missing (their data is
              │               derived from the rows, sync/view.py)
              └─ users ─────> {US}.info map, {US}.channels map (joined + invited)
    objects of the scope that no row explains (a removed channel, a service
    gone after a reset) ──> removed; session lists of the service's clients are kept

Only differences become events (``store.put_item`` skips
identical data), so a second rebuild writes nothing, and subscribed clients
catch up through their ordinary replay. Events of a rebuild have no domain
event behind them: their ``cause_seq`` is ``CAUSE`` (0), and connected sessions
pick them up with the subscription poll (docs/realtime-protocol.md §6.3).
"""

from dataclasses import dataclass
from typing import Any, cast

from parley.domain import channels as domain_channels
from parley.domain import invites as domain_invites
from parley.domain import members as domain_members
from parley.domain import services as domain_services
from parley.domain import users as domain_users
from parley.realtime.v2 import lists
from parley.store import Row, Tx
from parley.sync import projection, store

CAUSE = 0  # no domain event caused these Sync events


@dataclass
class Rebuilt:
    services: int = 0
    objects: int = 0  # objects that now exist for the rows
    events: int = 0  # changes written (0 when the view was already right)
    removed: int = 0  # objects no row explains any more


async def rebuild(tx: Tx, account_sid: str, service_sid: str | None = None) -> Rebuilt:
    """Reconcile the Sync objects of an account's services (or one service)."""
    result = Rebuilt()
    services: list[Row] = [cast(Row, s) for s in await domain_services.of_account(tx, account_sid)]
    if service_sid is not None:
        services = [s for s in services if s["sid"] == service_sid]
    for service in services:
        await _service(tx, service, result)
    if service_sid is None:  # objects of services that no longer exist (after a reset)
        live = {s["sid"] for s in services}
        for obj in await store.of_account(tx, account_sid):
            if obj["service_sid"] not in live:
                await store.remove_object(tx, obj, CAUSE)
                result.removed += 1
    return result


async def accounts(tx: Tx) -> list[str]:
    """Every account with a service or a Sync object (for ``parley sync rebuild``)."""
    with_services = await domain_services.account_sids(tx)
    return sorted(set(with_services) | set(await store.accounts(tx)))


async def _service(tx: Tx, service: Row, result: Rebuilt) -> None:
    sid = service["sid"]
    result.services += 1
    keep: set[str] = set()
    channels: dict[str, Row] = {
        c["sid"]: cast(Row, c) for c in await domain_channels.of_service(tx, sid)
    }
    members = [cast(Row, m) for m in await domain_members.of_service(tx, sid)]
    by_channel: dict[str, list[Row]] = {}
    for member in members:
        by_channel.setdefault(member["channel_sid"], []).append(member)

    for channel in channels.values():
        # the document and the messages list are derived from the rows
        # (sync/view.py): they need only exist
        doc, messages, roster = await projection.channel_objects(tx, channel)
        keep |= {doc["sid"], messages["sid"], roster["sid"]}
        mine = by_channel.get(channel["sid"], [])
        await _reconcile(tx, roster, {m["sid"]: projection.roster_data(m) for m in mine}, result)

    memberships: dict[str, list[Row]] = {}
    for member in members:
        memberships.setdefault(member["user_sid"], []).append(member)
    invites: dict[str, list[str]] = {}  # identity -> channel SIDs
    for pending in await domain_invites.of_service(tx, sid):
        invites.setdefault(pending["identity"], []).append(pending["channel_sid"])

    for found in await domain_users.of_service(tx, sid):
        user = cast(Row, found)
        channels_map, info = await projection.user_maps(tx, user)
        keep |= {channels_map["sid"], info["sid"]}
        notifiable = await projection.notifiable(tx, user)
        await _reconcile(tx, info, projection.user_info_items(user, notifiable), result)
        wanted: dict[str, dict[str, Any]] = {}
        for channel_sid in invites.get(user["identity"], []):
            invited = channels.get(channel_sid)
            if invited is not None:
                wanted[invited["sid"]] = projection.my_channel_data(invited, "invited", None)
        for member in memberships.get(user["sid"], []):  # a member is no longer invited
            joined = channels.get(member["channel_sid"])
            if joined is not None:
                wanted[joined["sid"]] = projection.my_channel_data(joined, "joined", member)
        await _reconcile(tx, channels_map, wanted, result)

    # session lists (docs/realtime-protocol.md §9.3) are clients' own state, not
    # derived from rows: they stay until their lifetime ends
    keep |= set(await lists.of_service(tx, sid))
    result.objects += len(keep)
    for obj in await store.of_service(tx, sid):
        if obj["sid"] not in keep:
            await store.remove_object(tx, obj, CAUSE)
            result.removed += 1


async def _reconcile(tx: Tx, obj: Row, wanted: dict[str, Any], result: Rebuilt) -> None:
    """Make a map's or list's items exactly ``wanted`` (key -> data)."""
    for key in await store.item_keys(tx, obj):
        if key not in wanted:
            await store.remove_item(tx, obj, key, CAUSE)
            result.events += 1
    for key, data in wanted.items():
        result.events += await store.put_item(tx, obj, key, data, CAUSE) is not None
