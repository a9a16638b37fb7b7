"""Channel-scoped webhooks (docs/behaviour.md §R12, §W6).

Stored per type in the columns the delivery worker reads:

::

    type      url  method  filters (JSON list)   triggers (JSON list)  flow_sid  retry_count
    webhook   yes  yes     post-event names      -                     -         0..3
    trigger   yes  yes     -                     keywords (<= 5)       -         0..3
    studio    -    -       post-event names      -                     FW...     0..3

Columns that do not belong to the type stay null, so "non-null" means "used".
"""

from collections.abc import Mapping
from typing import Any, TypedDict, cast

import orjson

from parley import sids, timefmt
from parley.domain import channels
from parley.domain.catalogue import CHANNEL_WEBHOOK_EVENTS
from parley.errors import TwilioError, missing
from parley.events import Origin, emit
from parley.sids import AccountSid, ChannelSid, ServiceSid, WebhookSid
from parley.store import Row, Tx, repo

TABLE = "channel_webhooks"
"""For the generic REST lookups and pager (``api/scope.py``, ``Call.listing``)."""


class ChannelWebhook(TypedDict):
    """A row of ``channel_webhooks``, the table this module owns: other
    modules read it through ``of_channel``."""

    seq: int
    sid: WebhookSid
    account_sid: AccountSid
    service_sid: ServiceSid
    channel_sid: ChannelSid
    type: str  # one of TYPES
    url: str | None
    method: str | None
    filters: str | None  # a JSON list
    triggers: str | None  # a JSON list
    flow_sid: str | None
    retry_count: int | None
    date_created: int
    date_updated: int | None


async def of_channel(tx: Tx, channel_sid: str) -> list[ChannelWebhook]:
    """The channel's webhooks, oldest first."""
    rows = await repo.select(tx, TABLE, {"channel_sid": channel_sid})
    return [cast(ChannelWebhook, r) for r in rows]


# what the write functions take: a typed row, or one read by the generic
# repository (the REST layer's scope lookups)
ChannelWebhookRow = ChannelWebhook | Row


WEBHOOK = "webhook"
TRIGGER = "trigger"
STUDIO = "studio"
TYPES = (WEBHOOK, TRIGGER, STUDIO)
PER_CHANNEL_MAX = 5  # 50321, docs/behaviour.md §R12
TRIGGERS_MAX = 5  # 50322
DEFAULT_METHOD = "POST"  # docs/behaviour.md §R12 / docs/decisions.md §41: inferred

# python names of the Configuration.* params
CONFIG = ("url", "method", "filters", "triggers", "flow_sid", "retry_count")


def _stored(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row's configuration with its lists decoded."""
    config = {k: row[k] for k in CONFIG}
    for key in ("filters", "triggers"):
        if config[key] is not None:
            config[key] = orjson.loads(config[key])
    return config


def _validated(kind: str, config: dict[str, Any]) -> Row:
    """The columns for a webhook of this type, or the Twilio error of the
    first rule broken (docs/behaviour.md §W6, §C8.3)."""
    filters = config.get("filters")
    if kind in (WEBHOOK, TRIGGER) and not config.get("url"):
        raise TwilioError(50329)
    if kind in (WEBHOOK, STUDIO):
        if not filters:
            raise TwilioError(50330)
        for name in filters:
            if name not in CHANNEL_WEBHOOK_EVENTS:
                raise TwilioError(50325, value=name)
        filters = list(dict.fromkeys(filters))
    triggers = config.get("triggers")
    if kind == TRIGGER:
        if not triggers:
            raise TwilioError(50326, value="no Configuration.Triggers")
        triggers = [t.strip() for t in triggers]
        if not all(triggers):
            raise TwilioError(50326, value="an empty keyword")
        triggers = list(dict.fromkeys(triggers))
        if len(triggers) > TRIGGERS_MAX:
            raise TwilioError(50322, limit=TRIGGERS_MAX)
    if kind == STUDIO and not config.get("flow_sid"):
        raise missing("Configuration.FlowSid")
    web = kind in (WEBHOOK, TRIGGER)
    return {
        "url": config["url"] if web else None,
        "method": (config.get("method") or DEFAULT_METHOD) if web else None,
        "filters": orjson.dumps(filters).decode() if kind != TRIGGER else None,
        "triggers": orjson.dumps(triggers).decode() if kind == TRIGGER else None,
        "flow_sid": config["flow_sid"] if kind == STUDIO else None,
        "retry_count": config.get("retry_count") or 0,
    }


async def create(
    tx: Tx, channel: channels.ChannelRow, values: dict[str, Any], origin: Origin
) -> Row:
    kind = values["type"]
    columns = _validated(kind, values)
    if await repo.count(tx, TABLE, {"channel_sid": channel["sid"]}) >= (PER_CHANNEL_MAX):
        raise TwilioError(50321, limit=PER_CHANNEL_MAX)
    row: Row = {
        "sid": sids.new_sid(sids.WEBHOOK),
        "account_sid": channel["account_sid"],
        "service_sid": channel["service_sid"],
        "channel_sid": channel["sid"],
        "type": kind,
        **columns,
        "date_created": timefmt.now(),
        "date_updated": None,
    }
    await repo.insert(tx, TABLE, row)
    await emit(tx, origin, "parley.channel_webhook.created", row)
    return row


async def update(tx: Tx, webhook: ChannelWebhookRow, values: dict[str, Any], origin: Origin) -> Row:
    """Any ``Configuration.*`` field; lists replace; the type never changes.
    The result must satisfy the type's rules as a whole."""
    config = {**_stored(webhook), **values}
    changes = {**_validated(webhook["type"], config), "date_updated": timefmt.now()}
    await repo.update(tx, TABLE, {"sid": webhook["sid"]}, changes)
    row = {**webhook, **changes}
    await emit(tx, origin, "parley.channel_webhook.updated", row)
    return row


async def delete(tx: Tx, webhook: ChannelWebhookRow, origin: Origin) -> None:
    await repo.delete(tx, TABLE, {"sid": webhook["sid"]})
    await emit(tx, origin, "parley.channel_webhook.deleted", webhook)


def configuration(row: Row) -> dict[str, Any]:
    """The ``configuration`` object per type, as the spec examples show it
    (docs/behaviour.md §R12): a trigger lists its keywords under ``filters``
    (docs/decisions.md §12); studio shows only its ``flow_sid``."""
    config = _stored(row)
    if row["type"] == STUDIO:
        return {"flow_sid": config["flow_sid"]}
    keywords = config["triggers"] if row["type"] == TRIGGER else config["filters"]
    return {
        "url": config["url"],
        "method": config["method"],
        "filters": keywords,
        "retry_count": config["retry_count"],
    }


async def forget_service(tx: Tx, service_sid: str) -> None:
    """Every channel webhook of a service being deleted (``service_delete.delete``): no events."""
    await repo.delete(tx, TABLE, {"service_sid": service_sid})


async def forget_channel(tx: Tx, channel_sid: str) -> None:
    """Every channel webhook of a channel being deleted (``channel_delete.delete``): no events."""
    await repo.delete(tx, TABLE, {"channel_sid": channel_sid})
