"""Resolving path variables to rows, scoped to the caller's account.

A missing or foreign resource, or a value that cannot be a key, is 404 / 20404
naming the path (docs/behaviour.md §C3.3, §C8.3: path misses use 20404). Human keys
follow docs/behaviour.md §R1: channels by SID or unique name, users and members by
SID or identity.
"""

from typing import cast

from parley import sids
from parley.api.call import Call
from parley.domain import channels, services, users
from parley.store import Row, repo


async def by_sid(call: Call, table: str, prefix: str, value: str, **where: str) -> Row:
    if not sids.looks_like(prefix, value):
        raise call.not_found()
    row = await repo.get(call.tx, table, {"sid": sids.normalise(value), **where})
    if row is None:
        raise call.not_found()
    return row


async def service(call: Call, var: str = "ServiceSid") -> services.Service:
    row = call.loaded.get("service")
    if row is None:
        value = call.path_params[var]
        row = await by_sid(call, services.TABLE, sids.SERVICE, value, account_sid=call.account_sid)
        call.loaded["service"] = row
    return cast(services.Service, row)


async def by_key(call: Call, table: str, prefix: str, key: str, value: str, **where: str) -> Row:
    """A SID-shaped value is looked up as a SID, anything else by its human key."""
    if sids.looks_like(prefix, value):
        return await by_sid(call, table, prefix, value, **where)
    row = await repo.get(call.tx, table, {key: value, **where})
    if row is None:
        raise call.not_found()
    return row


def channel_where(call: Call, var: str = "ChannelSid") -> dict[str, str]:
    """The columns that pick the path's channel within the caller's account:
    by SID or unique name, and, until the service row is needed, by the
    channel's own ``account_sid`` and ``service_sid`` (a channel lives and dies
    with its service, so the answer is the same, and the service's lookup is
    saved; README, "What profiling found and fixed"). A value that cannot be
    a key is 404 here, before any statement."""
    svc = call.loaded.get("service")
    if svc is not None:
        where = {"service_sid": str(svc["sid"])}
    else:
        service_sid = call.path_params["ServiceSid"]
        if not sids.looks_like(sids.SERVICE, service_sid):
            raise call.not_found()
        where = {"service_sid": sids.normalise(service_sid), "account_sid": call.account_sid}
    value = call.path_params[var]
    if sids.looks_like(sids.CHANNEL, value):
        where["sid"] = sids.normalise(value)
    else:
        where["unique_name"] = value
    return where


async def channel(call: Call, var: str = "ChannelSid") -> Row:
    """The path's channel (``channel_where``), read once per request."""
    row = call.loaded.get("channel")
    if row is None:
        row = await repo.get(call.tx, channels.TABLE, channel_where(call, var))
        if row is None:
            raise call.not_found()
        call.loaded["channel"] = row
    return row


async def user(call: Call, var: str = "UserSid") -> Row:
    row = call.loaded.get("user")
    if row is None:
        svc = await service(call)
        value = call.path_params[var]
        row = await by_key(call, users.TABLE, sids.USER, "identity", value, service_sid=svc["sid"])
        call.loaded["user"] = row
    return row
