"""Deleting a service: a cascade over every module whose rows hang off it,
above them all, so ``services`` imports none of them and each of them may
import ``services`` (for its ``ServiceRow``)."""

from parley.domain import (
    bindings,
    channel_webhooks,
    channels,
    invites,
    media,
    members,
    messages,
    roles,
    services,
    users,
)
from parley.store import Tx


async def delete(tx: Tx, service: services.Service) -> None:
    """The service and everything in it; account-level credentials survive."""
    sid = service["sid"]
    # what hangs off a service goes with it, children first (docs/behaviour.md
    # §R2 "delete")
    for forget in (
        messages.forget_service,
        members.forget_service,
        invites.forget_service,
        channel_webhooks.forget_service,
        media.forget_service,
        bindings.forget_service,
        users.forget_service,
        channels.forget_service,
        roles.forget_service,
    ):
        await forget(tx, sid)
    await services.delete_row(tx, sid)
