"""Channel resource: ``/v2/Services/{ServiceSid}/Channels`` (docs/behaviour.md §R3).

https://www.twilio.com/docs/chat/rest/channel-resource
"""

from typing import Any

from parley.api import params, scope
from parley.api.call import Call
from parley.api.table import (
    Field,
    Kind,
    Operation,
    Param,
    Resource,
    Row,
    attributes,
    col,
    date,
    href,
    url,
)
from parley.domain import channel_delete, channels, limits

INSTANCE = "/Services/{service_sid}/Channels/{sid}"


def _links(row: Row, base: str) -> dict[str, Any]:
    """Collections under the channel SID, and ``last_message``: the URL of the
    highest-index existing message or null (docs/decisions.md §11)."""
    prefix = href(INSTANCE, base, row)
    last = row["last_message_sid"]
    return {
        "members": prefix + "/Members",
        "messages": prefix + "/Messages",
        "invites": prefix + "/Invites",
        "webhooks": prefix + "/Webhooks",
        "last_message": f"{prefix}/Messages/{last}" if last else None,
    }


CHANNEL = Resource(
    name="channel",
    key="channels",
    fields=(
        col("sid"),
        col("account_sid"),
        col("service_sid"),
        col("friendly_name"),
        col("unique_name"),
        attributes(),
        col("type"),
        date("date_created"),
        date("date_updated"),
        col("created_by"),
        col("members_count"),
        col("messages_count"),
        url(INSTANCE),
        Field("links", _links),
    ),
)

# docs/behaviour.md §L3: one limit (256) for names on create and update (docs/decisions.md §23)
_COMMON = (
    Param(
        "FriendlyName",
        "friendly_name",
        max_len=limits.NAME_MAX,
        len_code=50003,
        nullable=True,
    ),
    Param("UniqueName", "unique_name", max_len=limits.NAME_MAX, len_code=50004, nullable=True),
    params.attributes(),
    params.date_created(),
    params.date_updated(),
    Param("CreatedBy", "created_by", max_len=limits.IDENTITY_MAX),
)
CREATE = (*_COMMON, Param("Type", "type", Kind.ENUM, choices=channels.TYPES))
UPDATE = _COMMON
# docs/behaviour.md §R3: absent -> public channels only (docs/decisions.md §22)
LIST = (Param("Type", "type", Kind.ENUM, many=True, choices=channels.TYPES),)


async def create(call: Call) -> Row:
    return await channels.create(call.tx, await scope.service(call), call.values, call.origin)


async def fetch(call: Call) -> Row:
    return await scope.channel(call, "Sid")


async def update(call: Call) -> Row:
    channel = await scope.channel(call, "Sid")
    service = await scope.service(call)
    return await channels.update(call.tx, service, channel, call.values, call.origin)


async def delete(call: Call) -> None:
    channel = await scope.channel(call, "Sid")
    await channel_delete.delete(call.tx, await scope.service(call), channel, call.origin)


async def list_(call: Call) -> list[Row]:
    service = await scope.service(call)
    types = call.values.get("type") or [channels.PUBLIC]
    return await call.listing(
        channels.TABLE, {"service_sid": service["sid"]}, any_of={"type": types}
    )


COLLECTION = "/v2/Services/{ServiceSid}/Channels"
OPERATIONS = [
    Operation("create", COLLECTION, CHANNEL, create, CREATE),
    Operation("list", COLLECTION, CHANNEL, list_, LIST),
    Operation("fetch", COLLECTION + "/{Sid}", CHANNEL, fetch),
    Operation("update", COLLECTION + "/{Sid}", CHANNEL, update, UPDATE),
    Operation("delete", COLLECTION + "/{Sid}", CHANNEL, delete),
]
