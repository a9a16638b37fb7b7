"""Sizes the domain enforces (limits.md §3). Counter limits live on the
service row (``limits_channel_members``, ``limits_user_channels``)."""

IDENTITY_MAX = 256  # Identity, From, CreatedBy, LastUpdatedBy: suggested, limits.md §3
NAME_MAX = 256  # channel FriendlyName / UniqueName: 256 on create and update (open-questions §23)
ATTRIBUTES_MAX = 16_384  # characters (open-questions.md §24)
BODY_MAX = 32_768  # message Body, characters (open-questions.md §24)
MEDIA_MAX = 150 * 1024 * 1024  # bytes: service media.size_limit_mb (limits.md §3)
