"""User Channel resource: ``…/Users/{UserSid}/Channels`` (docs/behaviour.md §R9).

https://www.twilio.com/docs/chat/rest/user-channel-resource
"""

from typing import Any

from parley.api import params, scope
from parley.api.call import Call
from parley.api.table import Field, Kind, Operation, Param, Resource, Row, col, href, url
from parley.domain import user_channels


def _links(row: Row, base: str) -> dict[str, Any]:
    channel = href("/Services/{service_sid}/Channels/{channel_sid}", base, row)
    member = row["member_sid"]
    return {"channel": channel, "member": f"{channel}/Members/{member}" if member else None}


USER_CHANNEL = Resource(
    name="user_channel",
    key="channels",
    fields=(
        col("account_sid"),
        col("service_sid"),
        col("channel_sid"),
        col("user_sid"),
        col("member_sid"),
        col("status"),
        col("last_consumed_message_index"),
        col("unread_messages_count"),
        Field("links", _links),
        url("/Services/{service_sid}/Users/{user_sid}/Channels/{channel_sid}"),
        col("notification_level"),
    ),
    max_page_size=50,
)

UPDATE = (
    Param(
        "NotificationLevel",
        "notification_level",
        Kind.ENUM,
        choices=user_channels.LEVELS,
        code=50210,
    ),
    *params.horizon(),
)


async def fetch(call: Call) -> Row:
    service, user = await scope.service(call), await scope.user(call)
    found = await user_channels.get(call.tx, service, user, await scope.channel(call))
    if found is None:
        raise call.not_found()
    return found


async def update(call: Call) -> Row:
    service, user = await scope.service(call), await scope.user(call)
    channel = await scope.channel(call)
    try:
        return await user_channels.update(call.tx, service, user, channel, call.values, call.origin)
    except LookupError:
        raise call.not_found() from None


async def delete(call: Call) -> None:
    service, user = await scope.service(call), await scope.user(call)
    try:
        await user_channels.delete(call.tx, service, user, await scope.channel(call), call.origin)
    except LookupError:
        raise call.not_found() from None


async def list_(call: Call) -> list[Row]:
    assert call.page is not None
    service, user = await scope.service(call), await scope.user(call)
    return await user_channels.page(
        call.tx,
        service,
        user,
        after=call.page.after,
        before=call.page.before,
        limit=call.page.size + 1,
    )


COLLECTION = "/v2/Services/{ServiceSid}/Users/{UserSid}/Channels"
OPERATIONS = [
    Operation("list", COLLECTION, USER_CHANNEL, list_),
    Operation("fetch", COLLECTION + "/{ChannelSid}", USER_CHANNEL, fetch),
    Operation("update", COLLECTION + "/{ChannelSid}", USER_CHANNEL, update, UPDATE),
    Operation("delete", COLLECTION + "/{ChannelSid}", USER_CHANNEL, delete),
]
