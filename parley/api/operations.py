"""Every routed operation, gathered from the resource modules."""

from parley.api import channels, invites, members, messages, roles, services
from parley.api.table import Operation

OPERATIONS: list[Operation] = [
    *services.OPERATIONS,
    *roles.OPERATIONS,
    *channels.OPERATIONS,
    *members.OPERATIONS,
    *messages.OPERATIONS,
    *invites.OPERATIONS,
]
