"""Member resource: ``…/Channels/{ChannelSid}/Members`` (docs/behaviour.md §R4).

https://www.twilio.com/docs/chat/rest/member-resource
"""

from parley.api import params, scope
from parley.api.call import Call
from parley.api.table import Operation, Resource, Row, attributes, col, date, url
from parley.domain import members

MEMBER = Resource(
    name="member",
    key="members",
    fields=(
        col("sid"),
        col("account_sid"),
        col("channel_sid"),
        col("service_sid"),
        col("identity"),
        date("date_created"),
        date("date_updated"),
        col("role_sid"),
        col("last_consumed_message_index"),
        date("last_consumption_timestamp"),
        url("/Services/{service_sid}/Channels/{channel_sid}/Members/{sid}"),
        attributes(),
    ),
)

_COMMON = (
    params.role(),
    *params.horizon(),
    params.date_created(),
    params.date_updated(),
    params.attributes(),
)
CREATE = (params.identity(), *_COMMON)
UPDATE = _COMMON
LIST = (params.identities(),)


async def _member(call: Call) -> members.Member:
    channel = await scope.channel(call)
    found = await members.find(call.tx, channel, call.path_params["Sid"])
    if found is None:
        raise call.not_found()
    return found


async def create(call: Call) -> Row:
    service = await scope.service(call)
    channel = await scope.channel(call)
    values = dict(call.values)
    identity = values.pop("identity")
    return await members.add(call.tx, service, channel, identity, call.origin, values)


async def fetch(call: Call) -> Row:
    return dict(await _member(call))


async def update(call: Call) -> Row:
    member = await _member(call)
    service, channel = await scope.service(call), await scope.channel(call)
    return await members.update(call.tx, service, channel, member, call.values, call.origin)


async def delete(call: Call) -> None:
    member = await _member(call)
    service, channel = await scope.service(call), await scope.channel(call)
    await members.remove(call.tx, service, channel, member, call.origin)


async def list_(call: Call) -> list[Row]:
    channel = await scope.channel(call)
    return await call.listing(
        members.TABLE,
        {"channel_sid": channel["sid"]},
        any_of={"identity": call.values.get("identity", [])},
    )


COLLECTION = "/v2/Services/{ServiceSid}/Channels/{ChannelSid}/Members"
OPERATIONS = [
    Operation("create", COLLECTION, MEMBER, create, CREATE),
    Operation("list", COLLECTION, MEMBER, list_, LIST),
    Operation("fetch", COLLECTION + "/{Sid}", MEMBER, fetch),
    Operation("update", COLLECTION + "/{Sid}", MEMBER, update, UPDATE),
    Operation("delete", COLLECTION + "/{Sid}", MEMBER, delete),
]
