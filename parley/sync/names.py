"""Sync object names and who may read them (docs/realtime-protocol.md §6-§7).

``{CH}.channel`` and ``{CH}.roster`` are fixed by the SDK itself
(twilio-chat@6.0.0 ``channeldescriptor.ts:100``, ``data/channels.ts:422``); the
rest are Parley's choice and reach the client through Configuration and the
channel document.

ACL: ``""`` readable by every identity of the service, ``user:<identity>``
by that identity only, ``channel:<CH>`` by the channel's members (and its document
by its invitees too, access.py).
"""


def channel_doc(channel_sid: str) -> str:
    return f"{channel_sid}.channel"


def messages(channel_sid: str) -> str:
    return f"{channel_sid}.messages"


def roster(channel_sid: str) -> str:
    return f"{channel_sid}.roster"


def user_channels(user_sid: str) -> str:
    return f"{user_sid}.channels"


def user_info(user_sid: str) -> str:
    return f"{user_sid}.info"


def channel_acl(channel_sid: str) -> str:
    return f"channel:{channel_sid}"


def user_acl(identity: str) -> str:
    return f"user:{identity}"


def doc_acl(channel_sid: str, channel_type: str) -> str:
    """A public channel's document is visible to the whole service (it is what
    the public-channel list opens); a private one only to its members."""
    return "" if channel_type == "public" else channel_acl(channel_sid)
