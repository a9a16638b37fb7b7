"""The names the console offers as choices, taken from the domain's own lists."""

from parley.domain import channel_webhooks, channels, credentials, roles
from parley.domain.catalogue import CHANNEL_WEBHOOK_EVENTS, POST_EVENTS, PRE_EVENTS

PRE = PRE_EVENTS
POST = POST_EVENTS
CHANNEL_EVENTS = CHANNEL_WEBHOOK_EVENTS
PERMISSIONS = {kind: sorted(names) for kind, names in roles.PERMISSIONS.items()}
ROLE_TYPES = tuple(roles.PERMISSIONS)
CHANNEL_TYPES = channels.TYPES
CREDENTIAL_TYPES = credentials.TYPES
# each credential type's secret fields (Twilio names): password inputs, never filled
CREDENTIAL_SECRETS = {
    kind: [wire for _, wire in pairs] for kind, pairs in credentials.SECRETS.items()
}
WEBHOOK_TYPES = channel_webhooks.TYPES
# Service.notifications: (JSON key, Twilio parameter infix, label)
NOTIFICATIONS = (
    ("new_message", "NewMessage", "New message"),
    ("added_to_channel", "AddedToChannel", "Added to channel"),
    ("invited_to_channel", "InvitedToChannel", "Invited to channel"),
    ("removed_from_channel", "RemovedFromChannel", "Removed from channel"),
)


def pairs(names: tuple[str, ...] | list[str]) -> list[tuple[str, str]]:
    """(value, text) options of a select whose values are their own labels."""
    return [(name, name) for name in names]
