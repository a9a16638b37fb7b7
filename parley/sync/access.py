"""Who may read a Sync object (see names.py for the ACL values)."""

from parley.store import Row, Tx, repo


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
        where = {"channel_sid": value, "identity": identity}
        if await repo.get(tx, "members", where) is not None:
            return True
        return await repo.get(tx, "invites", where) is not None
    return False
