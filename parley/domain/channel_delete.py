"""Deleting a channel: a cascade over the modules that hang off it (members,
messages and their media, invites, channel webhooks), above them all, so none
of them imports another to reach it (``members`` imports ``channels``)."""

from parley.domain import channel_webhooks, channels, invites, members, messages, services
from parley.events import Origin, emit
from parley.store import Tx


async def delete(
    tx: Tx, service: services.Service, channel: channels.ChannelRow, origin: Origin
) -> None:
    """The channel and everything in it: members (each user's
    ``joined_channels_count`` - 1), messages (and their media), invites and
    channel webhooks. Only ``onChannelDestroyed`` is emitted (docs/behaviour.md §W2:
    a cascade reports only the object the call named)."""
    sid = channel["sid"]
    await channels.lock(tx, sid)
    # recorded before the cascade: the channel's own webhooks (deleted below)
    # must still be there when the event's deliveries are planned, since
    # onChannelDestroyed is one of their filters (docs/behaviour.md §W6)
    await emit(tx, origin, "onChannelDestroyed", channel, channel_sid=sid)
    await members.forget_channel(tx, sid)
    await messages.forget_channel(tx, sid)
    await invites.forget_channel(tx, sid)
    await channel_webhooks.forget_channel(tx, sid)
    await channels.delete_row(tx, sid)
