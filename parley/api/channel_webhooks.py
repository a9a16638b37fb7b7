"""Channel Webhook resource: ``…/Channels/{ChannelSid}/Webhooks`` (docs/behaviour.md §R12).

https://www.twilio.com/docs/chat/rest/channel-webhook-resource
"""

from parley import sids
from parley.api import scope
from parley.api.call import Call
from parley.api.table import Field, Kind, Operation, Param, Resource, Row, col, date, url
from parley.domain import channel_webhooks

WEBHOOK = Resource(
    name="channel_webhook",
    key="webhooks",
    fields=(
        col("sid"),
        col("account_sid"),
        col("service_sid"),
        col("channel_sid"),
        col("type"),
        # the resource's own URL; the target URL is configuration.url
        url("/Services/{service_sid}/Channels/{channel_sid}/Webhooks/{sid}"),
        Field("configuration", lambda row, base: channel_webhooks.configuration(row)),
        date("date_created"),
        date("date_updated"),
    ),
    page_size=5,
    max_page_size=5,
)

UPDATE = (
    Param("Configuration.Url", "url", Kind.URL),
    Param("Configuration.Method", "method", Kind.ENUM, choices=("GET", "POST")),
    # names and keywords are checked by the domain (50325, 50326, 50322)
    Param("Configuration.Filters", "filters", many=True),
    Param("Configuration.Triggers", "triggers", many=True),
    Param("Configuration.FlowSid", "flow_sid", Kind.SID, prefix=sids.FLOW),
    # "between 0 and 3" (spec text); 50065 is Twilio's webhook retry count code
    Param("Configuration.RetryCount", "retry_count", Kind.INT, lo=0, hi=3, code=50065),
)
CREATE = (
    Param("Type", "type", Kind.ENUM, required=True, choices=channel_webhooks.TYPES),
    *UPDATE,
)


async def _webhook(call: Call) -> Row:
    channel = await scope.channel(call)
    return await scope.by_sid(
        call,
        channel_webhooks.TABLE,
        sids.WEBHOOK,
        call.path_params["Sid"],
        channel_sid=channel["sid"],
    )


async def create(call: Call) -> Row:
    channel = await scope.channel(call)
    return await channel_webhooks.create(call.tx, channel, call.values, call.origin)


async def fetch(call: Call) -> Row:
    return await _webhook(call)


async def update(call: Call) -> Row:
    return await channel_webhooks.update(call.tx, await _webhook(call), call.values, call.origin)


async def delete(call: Call) -> None:
    await channel_webhooks.delete(call.tx, await _webhook(call), call.origin)


async def list_(call: Call) -> list[Row]:
    channel = await scope.channel(call)
    return await call.listing(channel_webhooks.TABLE, {"channel_sid": channel["sid"]})


COLLECTION = "/v2/Services/{ServiceSid}/Channels/{ChannelSid}/Webhooks"
OPERATIONS = [
    Operation("create", COLLECTION, WEBHOOK, create, CREATE),
    Operation("list", COLLECTION, WEBHOOK, list_),
    Operation("fetch", COLLECTION + "/{Sid}", WEBHOOK, fetch),
    Operation("update", COLLECTION + "/{Sid}", WEBHOOK, update, UPDATE),
    Operation("delete", COLLECTION + "/{Sid}", WEBHOOK, delete),
]
