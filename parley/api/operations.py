"""Every routed operation, gathered from the resource modules."""

from parley.api import (
    bindings,
    channel_webhooks,
    channels,
    credentials,
    invites,
    members,
    messages,
    roles,
    services,
    user_channels,
    users,
)
from parley.api.table import Operation

OPERATIONS: list[Operation] = [
    *services.OPERATIONS,
    *roles.OPERATIONS,
    *channels.OPERATIONS,
    *members.OPERATIONS,
    *messages.OPERATIONS,
    *invites.OPERATIONS,
    *users.OPERATIONS,
    *user_channels.OPERATIONS,
    *bindings.OPERATIONS,
    *credentials.OPERATIONS,
    *channel_webhooks.OPERATIONS,
]
