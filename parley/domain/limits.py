"""Sizes the domain enforces (docs/behaviour.md §L3). Counter limits live on the
service row (``limits_channel_members``, ``limits_user_channels``)."""

IDENTITY_MAX = 256  # Identity, From, CreatedBy, LastUpdatedBy: suggested, docs/behaviour.md §L3
NAME_MAX = (
    256  # channel FriendlyName / UniqueName: 256 on create and update (docs/decisions.md §23)
)
ATTRIBUTES_MAX = 16_384  # characters (docs/decisions.md §24)
BODY_MAX = 32_768  # message Body, characters (docs/decisions.md §24)
MEDIA_MAX = 150 * 1024 * 1024  # bytes: service media.size_limit_mb (docs/behaviour.md §L3)
