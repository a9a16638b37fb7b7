"""Domain events -> the Sync view, inside the transaction that recorded them.

One of the store's projectors (``parley.app.PROJECTORS``). The domain events
and their payloads (each the stored row of the resource, see
``parley.events.model.emit``)::

    onUserAdded/Updated        -> {US}.info map (friendlyName, attributes, reachability),
                                  {US}.channels map (pending invites as "invited")
    onChannelAdded/Updated     -> {CH}.channel document; members' {US}.channels items
    onChannelDestroyed         -> channel objects removed; items gone from every user map
    onMemberAdded/Updated      -> {CH}.roster item; the user's {US}.channels item "joined"
    onMemberRemoved            -> both removed
    onMessageSent/Updated      -> nothing: the messages list and the channel
                                  document are derived from the rows (sync/view.py)
    onMessageRemoved           -> the list item's removal (stored: no row is left)
    parley.invite.created      -> {US}.channels item "invited" (if the user exists)
    parley.invite.deleted      -> that item removed unless the user joined
    parley.user.deleted        -> the user's maps removed
    parley.binding.*           -> {US}.info reachability (notifiable follows bindings)
"""

from collections.abc import Awaitable, Callable
from typing import Any, cast

import orjson

from parley import timefmt
from parley.domain import bindings, channels, invites, members, users
from parley.domain.messages import media_of
from parley.events import Event
from parley.store import Row, Tx
from parley.sync import names, store

Handler = Callable[[Tx, Event], Awaitable[None]]


def _iso(value: Any) -> str | None:
    return timefmt.to_webhook(value) if isinstance(value, int) else None


def _attrs(value: Any) -> str:
    return value if isinstance(value, str) and value else "{}"


# ---------------------------------------------------------------- shapes


def channel_data(channel: Row, last: Row | None) -> dict[str, Any]:
    """The channel document (docs/realtime-protocol.md §6.4; twilio-chat's
    channel.ts fieldMappings)."""
    sid = channel["sid"]
    data: dict[str, Any] = {
        "messages": names.messages(sid),
        "roster": names.roster(sid),
        "friendlyName": channel.get("friendly_name"),
        "uniqueName": channel.get("unique_name"),
        "attributes": _attrs(channel.get("attributes")),
        "createdBy": channel.get("created_by"),
        "dateCreated": _iso(channel.get("date_created")),
        "dateUpdated": _iso(channel.get("date_updated") or channel.get("date_created")),
        "type": channel.get("type"),
    }
    if last is not None:
        data["lastMessage"] = {"index": last["idx"], "timestamp": _iso(last["date_created"])}
    return data


def my_channel_data(channel: Row, status: str, member: Row | None) -> dict[str, Any]:
    """An item of a user's channels map, keyed by channel SID."""
    return {
        "channel": names.channel_doc(channel["sid"]),
        "messages": names.messages(channel["sid"]),
        "roster": names.roster(channel["sid"]),
        "status": status,
        "type": channel.get("type"),
        "friendlyName": channel.get("friendly_name"),
        "uniqueName": channel.get("unique_name"),
        "attributes": _attrs(channel.get("attributes")),
        "lastConsumedMessageIndex": member.get("last_consumed_message_index") if member else None,
        "notificationLevel": (member.get("notification_level") if member else None) or "default",
        "dateCreated": _iso(channel.get("date_created")),
        "dateUpdated": _iso(channel.get("date_updated") or channel.get("date_created")),
    }


def roster_data(member: Row) -> dict[str, Any]:
    return {
        "identity": member["identity"],
        "attributes": _attrs(member.get("attributes")),
        "roleSid": member.get("role_sid"),
        "type": "chat",
        "lastConsumedMessageIndex": member.get("last_consumed_message_index"),
        "lastConsumptionTimestamp": _iso(member.get("last_consumption_timestamp")),
        "dateCreated": _iso(member.get("date_created")),
        "dateUpdated": _iso(member.get("date_updated") or member.get("date_created")),
        "userInfo": names.user_info(member["user_sid"]),
    }


def message_data(message: Row, member_sid: str | None, media: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "sid": message["sid"],
        "text": message.get("body"),
        "author": message.get("author"),
        "attributes": _attrs(message.get("attributes")),
        "timestamp": _iso(message.get("date_created")),
        "dateUpdated": _iso(message.get("date_updated") or message.get("date_created")),
        "lastUpdatedBy": message.get("last_updated_by"),
        "type": message.get("type") or "text",
        "memberSid": member_sid,
    }
    if data["type"] == "media" and isinstance(media, dict):
        # the SDK's Media reads {sid, filename, contentType, size}
        # (twilio-chat@6.0.0 builds/lib.js `function Media`, @5.0.2 dist/lib.js the same)
        data["media"] = {
            "sid": media.get("sid"),
            "filename": media.get("filename"),
            "contentType": media.get("content_type"),
            "size": media.get("size"),
        }
    return data


def user_info_items(user: Row, notifiable: bool) -> dict[str, dict[str, Any]]:
    """The user-info map's items (docs/realtime-protocol.md §6-§7; twilio-chat user.ts)."""
    return {
        "friendlyName": {"value": user.get("friendly_name")},
        "attributes": {"value": _attrs(user.get("attributes"))},
        "reachability": {"online": bool(user.get("is_online")), "notifiable": notifiable},
    }


async def notifiable(tx: Tx, user: Row) -> bool:
    """Whether the user has a binding, counted here because the binding
    events come before ``users.is_notifiable`` is written (domain/bindings.py)."""
    return await bindings.has_any(tx, user["sid"])


# ---------------------------------------------------------------- objects


async def user_maps(tx: Tx, user: Row) -> tuple[Row, Row]:
    """The user's channels map and info map, created if missing."""
    account, service = user["account_sid"], user["service_sid"]
    channels = await store.ensure(
        tx,
        account,
        service,
        "map",
        names.user_channels(user["sid"]),
        names.user_acl(user["identity"]),
    )
    info = await store.ensure(tx, account, service, "map", names.user_info(user["sid"]), "")
    return channels, info


async def channel_objects(tx: Tx, channel: Row) -> tuple[Row, Row, Row]:
    """The channel's document, messages list and roster map, created if missing."""
    sid, account, service = channel["sid"], channel["account_sid"], channel["service_sid"]
    doc_name, list_name, roster_name = (
        names.channel_doc(sid),
        names.messages(sid),
        names.roster(sid),
    )
    # one query for the three (this runs in every message's transaction)
    found = await store.find_named(tx, service, [doc_name, list_name, roster_name])
    # the document's data and the list's items are derived from the rows
    # (sync/view.py): their objects hold only SID, ACL and creation date
    doc = await store.ensure(
        tx,
        account,
        service,
        "document",
        doc_name,
        names.doc_acl(sid, channel["type"]),
        found=found.get(doc_name),
    )
    messages = await store.ensure(
        tx, account, service, "list", list_name, names.channel_acl(sid), found=found.get(list_name)
    )
    roster = await store.ensure(
        tx,
        account,
        service,
        "map",
        roster_name,
        names.channel_acl(sid),
        found=found.get(roster_name),
    )
    return doc, messages, roster


# the owners' typed rows, as the shapes above read them
async def _user(tx: Tx, service_sid: str, identity: str) -> Row | None:
    return cast(Row | None, await users.by_identity(tx, service_sid, identity))


async def _user_by_sid(tx: Tx, user_sid: str | None) -> Row | None:
    return None if user_sid is None else cast(Row | None, await users.by_sid(tx, user_sid))


async def _channel(tx: Tx, sid: str | None) -> Row | None:
    return None if sid is None else cast(Row | None, await channels.by_sid(tx, sid))


async def refresh_channel(tx: Tx, channel: Row, cause: int) -> None:
    """The channel's objects (made if missing; the document itself is derived,
    its revision taken by the channel's change) and every member's channels
    item from the channel as stored."""
    await channel_objects(tx, channel)
    for member in await members.in_channel(tx, channel["sid"]):
        await _my_channel(tx, channel, member["user_sid"], "joined", cast(Row, member), cause)
    for invite in await invites.of_channel(tx, channel["sid"]):
        user = await _user(tx, channel["service_sid"], invite["identity"])
        if user is not None and not await _is_member(tx, channel["sid"], invite["identity"]):
            await _my_channel(tx, channel, user["sid"], "invited", None, cause)


async def _is_member(tx: Tx, channel_sid: str, identity: str) -> bool:
    return await members.by_identity(tx, channel_sid, identity) is not None


async def _my_channel(
    tx: Tx, channel: Row, user_sid: str, status: str, member: Row | None, cause: int
) -> None:
    user = await _user_by_sid(tx, user_sid)
    if user is None:
        return
    channels, _ = await user_maps(tx, user)
    await store.put_item(
        tx, channels, channel["sid"], my_channel_data(channel, status, member), cause
    )


# ---------------------------------------------------------------- handlers


async def on_user(tx: Tx, event: Event) -> None:
    user = await _user_by_sid(tx, event.payload["sid"])
    if user is None:
        return
    channels, info = await user_maps(tx, user)
    for key, data in user_info_items(user, await notifiable(tx, user)).items():
        await store.put_item(tx, info, key, data, event.seq)
    if event.kind == "onUserAdded":
        for invite in await invites.of_identity(tx, user["service_sid"], user["identity"]):
            channel = await _channel(tx, invite["channel_sid"])
            if channel is not None:
                data = my_channel_data(channel, "invited", None)
                await store.put_item(tx, channels, channel["sid"], data, event.seq)


async def on_binding(tx: Tx, event: Event) -> None:
    """Bindings move ``is_notifiable`` (domain/bindings.py) without a user
    event: the reachability item follows them here."""
    user = await _user_by_sid(tx, event.payload.get("user_sid"))
    if user is None:
        return
    _, info = await user_maps(tx, user)
    items = user_info_items(user, await notifiable(tx, user))
    await store.put_item(tx, info, "reachability", items["reachability"], event.seq)


async def on_user_deleted(tx: Tx, event: Event) -> None:
    user = event.payload
    for kind, name in (
        ("map", names.user_channels(user["sid"])),
        ("map", names.user_info(user["sid"])),
    ):
        obj = await store.find(tx, user["service_sid"], kind, name)
        if obj is not None:
            await store.remove_object(tx, obj, event.seq)


async def on_channel(tx: Tx, event: Event) -> None:
    channel = await _channel(tx, event.payload["sid"])
    if channel is not None:
        await refresh_channel(tx, channel, event.seq)


async def on_channel_destroyed(tx: Tx, event: Event) -> None:
    sid, service = event.payload["sid"], event.payload["service_sid"]
    # recorded before the row goes (domain/channel_delete.py): its counters
    # are the derived objects' last event ids
    channel: Row = dict(await channels.by_sid(tx, sid) or event.payload)
    for kind, name, counter in (
        ("document", names.channel_doc(sid), "document_event_id"),
        ("list", names.messages(sid), "messages_event_id"),
        ("map", names.roster(sid), None),
    ):
        obj = await store.find(tx, service, kind, name)
        if obj is None and kind != "map":  # derived: it exists with its channel
            obj = store.stand_in(kind, channel)  # type: ignore[arg-type]
        if obj is not None:
            last = None if counter is None else int(channel.get(counter) or 0)
            await store.remove_object(tx, obj, event.seq, last)
    # every user map still holding the channel (members, invitees)
    for obj in await store.maps_holding(tx, service, sid):
        await store.remove_item(tx, obj, sid, event.seq)


async def on_member(tx: Tx, event: Event) -> None:
    member = cast(Row | None, await members.by_sid(tx, event.payload["sid"]))
    channel = await _channel(tx, event.channel_sid or event.payload.get("channel_sid"))
    if member is None or channel is None:
        return
    _, _, roster = await channel_objects(tx, channel)
    await store.put_item(tx, roster, member["sid"], roster_data(member), event.seq)
    await _my_channel(tx, channel, member["user_sid"], "joined", member, event.seq)


async def on_member_removed(tx: Tx, event: Event) -> None:
    member = event.payload
    channel_sid = member["channel_sid"]
    roster = await store.find(tx, member["service_sid"], "map", names.roster(channel_sid))
    if roster is not None:
        await store.remove_item(tx, roster, member["sid"], event.seq)
    mine = await store.find(
        tx, member["service_sid"], "map", names.user_channels(member["user_sid"])
    )
    if mine is not None:
        await store.remove_item(tx, mine, channel_sid, event.seq)


async def on_message_removed(tx: Tx, event: Event) -> None:
    """The messages list and the document are derived (sync/view.py): a new or
    edited message writes nothing here. A removed one leaves no row to derive
    its removal from, so the removal is stored, under the event id its
    statement took on the channel row (held on the event)."""
    message = event.payload
    channel = event.held.get("channel")
    if channel is None:
        return
    list_name = names.messages(channel["sid"])
    messages = await store.find(tx, message["service_sid"], "list", list_name)
    if messages is None:
        messages = store.stand_in("list", channel)
    author = message.get("author") or ""
    member_sid = (await members.sids_of(tx, channel["sid"], [author])).get(author)
    body = {
        "list_sid": messages["sid"],
        "item_index": message["idx"],
        "item_data": message_data(message, member_sid, media_of(message)),
    }
    event_id = int(channel["messages_event_id"])
    await store.record_event(tx, messages, event_id, event.seq, "list_item_removed", body)


async def on_invite(tx: Tx, event: Event) -> None:
    invite = event.payload
    channel = await _channel(tx, invite["channel_sid"])
    user = await _user(tx, invite["service_sid"], invite["identity"])
    if channel is None or user is None or await _is_member(tx, channel["sid"], user["identity"]):
        return
    channels, _ = await user_maps(tx, user)
    if event.kind == "parley.invite.created":
        data = my_channel_data(channel, "invited", None)
        await store.put_item(tx, channels, channel["sid"], data, event.seq)
    else:
        item = await store.get_item(tx, channels, channel["sid"])
        if item is not None and orjson.loads(item["data"]).get("status") == "invited":
            await store.remove_item(tx, channels, channel["sid"], event.seq)


HANDLERS: dict[str, Handler] = {
    "onUserAdded": on_user,
    "onUserUpdated": on_user,
    "parley.user.deleted": on_user_deleted,
    "parley.binding.created": on_binding,
    "parley.binding.updated": on_binding,
    "parley.binding.deleted": on_binding,
    "onChannelAdded": on_channel,
    "onChannelUpdated": on_channel,
    "onChannelDestroyed": on_channel_destroyed,
    "onMemberAdded": on_member,
    "onMemberUpdated": on_member,
    "onMemberRemoved": on_member_removed,
    "onMessageRemoved": on_message_removed,
    "parley.invite.created": on_invite,
    "parley.invite.deleted": on_invite,
}


async def project(tx: Tx, event: Event) -> None:
    handler = HANDLERS.get(event.kind)
    if handler is not None:
        await handler(tx, event)
