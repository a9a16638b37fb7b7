"""Message resource: ``…/Channels/{ChannelSid}/Messages`` (docs/behaviour.md §R5).

Lists page on the channel's index (keyset on ``(channel_sid, idx)``, the
messages table's unique index), so a page costs the same at any depth and in
a channel of any size.

https://www.twilio.com/docs/chat/rest/message-resource
"""

from typing import cast

from parley import sids
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
    flag,
    url,
)
from parley.domain import channels, limits, messages

MESSAGE = Resource(
    name="message",
    key="messages",
    fields=(
        col("sid"),
        col("account_sid"),
        attributes(),
        col("service_sid"),
        col("to", "channel_sid"),
        col("channel_sid"),
        date("date_created"),
        date("date_updated"),
        col("last_updated_by"),
        flag("was_edited"),
        col("from", "author"),
        col("body"),
        col("index", "idx"),
        col("type"),
        Field("media", lambda row, base: messages.media_of(row)),
        url("/Services/{service_sid}/Channels/{channel_sid}/Messages/{sid}"),
    ),
    cursor="idx",
)

_AUTHOR = Param("From", "author", max_len=limits.IDENTITY_MAX)
_COMMON = (
    _AUTHOR,
    params.attributes(),
    params.date_created(),
    params.date_updated(),
    Param("LastUpdatedBy", "last_updated_by", max_len=limits.IDENTITY_MAX, len_code=50505),
    # spec: an empty or null Body is an empty string
    Param("Body", "body", max_len=limits.BODY_MAX, len_code=50504, nullable=True),
)
CREATE = (*_COMMON, Param("MediaSid", "media_sid", Kind.SID, prefix=sids.MEDIA, code=50507))
UPDATE = _COMMON
LIST = (Param("Order", "order", Kind.ENUM, choices=("asc", "desc")),)


async def _message(call: Call) -> Row:
    channel = await scope.channel(call)
    return await scope.by_sid(
        call, messages.TABLE, sids.MESSAGE, call.path_params["Sid"], channel_sid=channel["sid"]
    )


async def _service(call: Call) -> Row:
    """The path's service as domain/messages.py takes it: an untyped row, until
    that module takes the owners' typed rows."""
    return cast(Row, await scope.service(call))


async def create(call: Call) -> Row:
    if call.values.get("media_sid") is None:
        # the statement that takes the index finds the channel: no lookup first
        where = scope.channel_where(call)
        created = await messages.create_in(call.tx, where, call.values, call.origin)
        if created is None:
            raise call.not_found()
        return created
    service, channel = await _service(call), await scope.channel(call)
    return await messages.create(call.tx, service, channel, call.values, call.origin)


async def fetch(call: Call) -> Row:
    return await _message(call)


async def update(call: Call) -> Row:
    message = await _message(call)
    service, channel = await _service(call), await scope.channel(call)
    return await messages.update(call.tx, service, channel, message, call.values, call.origin)


async def delete(call: Call) -> None:
    message = await _message(call)
    service, channel = await _service(call), await scope.channel(call)
    await messages.remove(call.tx, service, channel, message, call.origin)


async def list_(call: Call) -> list[Row]:
    # the page's statement finds the channel (a subquery): no lookup first;
    # only an empty page may mean that there is no such channel (404)
    rows = await call.listing(
        messages.TABLE,
        {},
        within=("channel_sid", channels.TABLE, scope.channel_where(call)),
        column="idx",
        descending=call.values.get("order") == "desc",
    )
    if not rows:
        await scope.channel(call)
    return rows


COLLECTION = "/v2/Services/{ServiceSid}/Channels/{ChannelSid}/Messages"
OPERATIONS = [
    Operation("create", COLLECTION, MESSAGE, create, CREATE),
    Operation("list", COLLECTION, MESSAGE, list_, LIST),
    Operation("fetch", COLLECTION + "/{Sid}", MESSAGE, fetch),
    Operation("update", COLLECTION + "/{Sid}", MESSAGE, update, UPDATE),
    Operation("delete", COLLECTION + "/{Sid}", MESSAGE, delete),
]
