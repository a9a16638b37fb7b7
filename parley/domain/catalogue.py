"""Webhook event names (docs/behaviour.md §W2): what ``WebhookFilters`` accepts."""

PRE_EVENTS = (
    "onMessageSend",
    "onMediaMessageSend",
    "onMessageUpdate",
    "onMessageRemove",
    "onChannelAdd",
    "onChannelUpdate",
    "onChannelDestroy",
    "onMemberAdd",
    "onMemberUpdate",
    "onMemberRemove",
    "onUserUpdate",
)

POST_EVENTS = (
    "onMessageSent",
    "onMediaMessageSent",
    "onMessageUpdated",
    "onMessageRemoved",
    "onChannelAdded",
    "onChannelUpdated",
    "onChannelDestroyed",
    "onMemberAdded",
    "onMemberUpdated",
    "onMemberRemoved",
    "onUserAdded",
    "onUserUpdated",
)

ALL_EVENTS = PRE_EVENTS + POST_EVENTS

# docs/behaviour.md §W6: post-events a channel-scoped webhook may filter on
CHANNEL_WEBHOOK_EVENTS = (
    "onMessageSent",
    "onMessageUpdated",
    "onMessageRemoved",
    "onMediaMessageSent",
    "onChannelUpdated",
    "onChannelDestroyed",
    "onMemberAdded",
    "onMemberUpdated",
    "onMemberRemoved",
)
