"""Every routed operation, gathered from the resource modules."""

from parley.api import channels, invites, members, roles, services
from parley.api.table import Operation

OPERATIONS: list[Operation] = [
    *services.OPERATIONS,
    *roles.OPERATIONS,
    *channels.OPERATIONS,
    *members.OPERATIONS,
    *invites.OPERATIONS,
]
