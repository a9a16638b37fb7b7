"""Who may read a Sync object (see names.py for the ACL values).

A channel-scoped object is read by the channel's members. An invitee who has
not joined yet reads the channel's document only (its name, attributes and
type: what the invitation shows), never its messages or roster; the twilio-chat
SDK itself opens only the document for an invited channel (docs/security.md,
"Invitees and private channels").
"""

from parley.domain import invites, members
from parley.store import Row, Tx
from parley.sync import names


async def readable(tx: Tx, obj: Row, service_sid: str, identity: str) -> bool:
    if obj["service_sid"] != service_sid:
        return False
    acl: str = obj["acl"]
    if acl == "":
        return True
    scope, _, value = acl.partition(":")
    if scope == "user":
        return value == identity
    if scope == "channel":
        if await members.by_identity(tx, value, identity) is not None:
            return True
        invitation = obj["type"] == "document" and obj["unique_name"] == names.channel_doc(value)
        return invitation and await invites.pending(tx, value, identity) is not None
    return False
