"""SIDs: two upper-case letters and 32 lower-case hex digits (docs/behaviour.md §C5).

Each prefix gets its own ``NewType`` so a channel SID cannot be passed where a
service SID is expected. Input is accepted in either hex case and normalised.
"""

import itertools
import os
import re
import secrets
from typing import NewType

AccountSid = NewType("AccountSid", str)
KeySid = NewType("KeySid", str)
ServiceSid = NewType("ServiceSid", str)
ChannelSid = NewType("ChannelSid", str)
MemberSid = NewType("MemberSid", str)
MessageSid = NewType("MessageSid", str)
InviteSid = NewType("InviteSid", str)
RoleSid = NewType("RoleSid", str)
UserSid = NewType("UserSid", str)
BindingSid = NewType("BindingSid", str)
CredentialSid = NewType("CredentialSid", str)
WebhookSid = NewType("WebhookSid", str)
MediaSid = NewType("MediaSid", str)

ACCOUNT = "AC"
API_KEY = "SK"
SERVICE = "IS"
CHANNEL = "CH"
MEMBER = "MB"
MESSAGE = "IM"
INVITE = "IN"
ROLE = "RL"
USER = "US"
BINDING = "BS"
CREDENTIAL = "CR"
WEBHOOK = "WH"
MEDIA = "ME"
FLOW = "FW"
REQUEST = "RQ"
# the Sync view (docs/realtime-protocol.md §6-§7; prefixes as Twilio Sync spells them)
SYNC_MAP = "MP"
SYNC_LIST = "ES"
SYNC_DOCUMENT = "ET"

_SHAPE = re.compile(r"[A-Z]{2}[0-9a-fA-F]{32}")


def new_sid(prefix: str) -> str:
    """A fresh SID from 128 random bits; never reused."""
    return prefix + secrets.token_hex(16)


class _RequestIds:
    """Request IDs (``Twilio-Request-Id``, and the log line of a 500): ``RQ``
    and 32 hex digits, like Twilio's, but a random per-process half and a
    counter rather than 128 random bits each (``os.urandom`` was ~4 % of a
    fetch; docs/decisions.md, "Request IDs"). They trace, and grant nothing,
    so unique is enough; a forked child draws its own half."""

    def __init__(self) -> None:
        self.renew()

    def renew(self) -> None:
        self.prefix = REQUEST + secrets.token_hex(8)
        self.counter = itertools.count()

    def new(self) -> str:
        return f"{self.prefix}{next(self.counter):016x}"


_request_ids = _RequestIds()
os.register_at_fork(after_in_child=_request_ids.renew)
new_request_id = _request_ids.new


def looks_like(prefix: str, value: str) -> bool:
    """Whether ``value`` has the shape of a SID with this prefix."""
    return len(value) == 34 and value.startswith(prefix) and _SHAPE.fullmatch(value) is not None


def normalise(value: str) -> str:
    """Lower-case the hex part of a SID-shaped value (spec patterns accept both cases)."""
    return value[:2] + value[2:].lower()
