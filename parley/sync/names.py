"""Sync object names and who may read them (docs/realtime-protocol.md §6-§7).

``{CH}.channel`` and ``{CH}.roster`` are fixed by the SDK itself
(twilio-chat@6.0.0 ``channeldescriptor.ts:100``, ``data/channels.ts:422``); the
rest are Parley's choice and reach the client through Configuration and the
channel document.

ACL: ``""`` readable by every identity of the service, ``user:<identity>``
by that identity only, ``channel:<CH>`` by the channel's members (and its document
by its invitees too, access.py).
"""

from parley import sids


def channel_doc(channel_sid: str) -> str:
    return f"{channel_sid}.channel"


def messages(channel_sid: str) -> str:
    return f"{channel_sid}.messages"


def _channel_of(name: str, suffix: str) -> str | None:
    head = name[: -len(suffix)] if name.endswith(suffix) else ""
    return head if head.startswith(sids.CHANNEL) and "." not in head else None


def channel_of_doc(name: str) -> str | None:
    """The channel whose document has this unique name, if it is one."""
    return _channel_of(name, ".channel")


def channel_of_messages(name: str) -> str | None:
    """The channel whose messages list has this unique name, if it is one."""
    return _channel_of(name, ".messages")


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
