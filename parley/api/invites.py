"""Invite resource: ``…/Channels/{ChannelSid}/Invites`` (docs/behaviour.md §R6).

https://www.twilio.com/docs/chat/rest/invite-resource
"""

from parley import sids
from parley.api import params, scope
from parley.api.call import Call
from parley.api.table import Operation, Resource, Row, col, date, url
from parley.domain import invites, users

INVITE = Resource(
    name="invite",
    key="invites",
    fields=(
        col("sid"),
        col("account_sid"),
        col("channel_sid"),
        col("service_sid"),
        col("identity"),
        date("date_created"),
        date("date_updated"),
        col("role_sid"),
        col("created_by"),
        url("/Services/{service_sid}/Channels/{channel_sid}/Invites/{sid}"),
    ),
)

CREATE = (params.identity(), params.role())
LIST = (params.identities(),)


async def _invite(call: Call) -> Row:
    channel = await scope.channel(call)
    return await scope.by_sid(
        call, invites.TABLE, sids.INVITE, call.path_params["Sid"], channel_sid=channel["sid"]
    )


async def create(call: Call) -> Row:
    service, channel = await scope.service(call), await scope.channel(call)
    user = await users.find(call.tx, service, call.values["identity"])
    if user is None:
        # docs/decisions.md §26: Twilio answered 404/20404 naming the Invites path
        raise call.not_found()
    return await invites.create(
        call.tx, service, channel, user, call.origin, call.values.get("role_sid")
    )


async def fetch(call: Call) -> Row:
    return await _invite(call)


async def delete(call: Call) -> None:
    await invites.remove(call.tx, await _invite(call), call.origin)


async def list_(call: Call) -> list[Row]:
    channel = await scope.channel(call)
    return await call.listing(
        invites.TABLE,
        {"channel_sid": channel["sid"]},
        any_of={"identity": call.values.get("identity", [])},
    )


COLLECTION = "/v2/Services/{ServiceSid}/Channels/{ChannelSid}/Invites"
OPERATIONS = [
    Operation("create", COLLECTION, INVITE, create, CREATE),
    Operation("list", COLLECTION, INVITE, list_, LIST),
    Operation("fetch", COLLECTION + "/{Sid}", INVITE, fetch),
    Operation("delete", COLLECTION + "/{Sid}", INVITE, delete),
]
