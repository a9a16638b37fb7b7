"""Service resource: ``/v2/Services`` (docs/behaviour.md §R2).

https://www.twilio.com/docs/chat/rest/service-resource
"""

from typing import Any

from parley.api import scope
from parley.api.call import Call
from parley.api.table import (
    Field,
    Kind,
    Operation,
    Param,
    Resource,
    Row,
    col,
    date,
    flag,
    json_list,
    links,
    url,
)
from parley.domain import service_delete, services
from parley.domain.catalogue import ALL_EVENTS

INSTANCE = "/Services/{sid}"

_NOTIFICATION_TYPES = (
    "new_message",
    "added_to_channel",
    "invited_to_channel",
    "removed_from_channel",
)


def _notifications(row: Row, base: str) -> dict[str, Any]:
    """docs/behaviour.md §P1.2: ``enabled`` always, the rest once set."""
    out: dict[str, Any] = {"log_enabled": bool(row["notifications_log_enabled"])}
    for kind in _NOTIFICATION_TYPES:
        entry: dict[str, Any] = {"enabled": bool(row[f"{kind}_enabled"])}
        for setting in ("template", "sound"):
            if row[f"{kind}_{setting}"] is not None:
                entry[setting] = row[f"{kind}_{setting}"]
        if kind == "new_message" and row["new_message_badge_count_enabled"] is not None:
            entry["badge_count_enabled"] = bool(row["new_message_badge_count_enabled"])
        out[kind] = entry
    return out


SERVICE = Resource(
    name="service",
    key="services",
    fields=(
        col("sid"),
        col("account_sid"),
        col("friendly_name"),
        date("date_created"),
        date("date_updated"),
        col("default_service_role_sid"),
        col("default_channel_role_sid"),
        col("default_channel_creator_role_sid"),
        flag("read_status_enabled"),
        flag("reachability_enabled"),
        col("typing_indicator_timeout"),
        col("consumption_report_interval"),
        Field(
            "limits",
            lambda row, base: {
                "channel_members": row["limits_channel_members"],
                "user_channels": row["limits_user_channels"],
            },
        ),
        col("pre_webhook_url"),
        col("post_webhook_url"),
        col("webhook_method"),
        json_list("webhook_filters"),
        col("pre_webhook_retry_count"),
        col("post_webhook_retry_count"),
        Field("notifications", _notifications),
        Field(
            "media",
            lambda row, base: {
                "size_limit_mb": services.MEDIA_SIZE_LIMIT_MB,
                "compatibility_message": row["media_compatibility_message"]
                or services.COMPATIBILITY_MESSAGE,
            },
        ),
        url(INSTANCE),
        links(
            {
                "channels": INSTANCE + "/Channels",
                "users": INSTANCE + "/Users",
                "roles": INSTANCE + "/Roles",
                "bindings": INSTANCE + "/Bindings",
            }
        ),
    ),
)

NAME_MAX = 256  # docs/behaviour.md §L3: not published, suggested
TEMPLATE_MAX = 1024  # docs/behaviour.md §L3: suggested


def _notification_params() -> tuple[Param, ...]:
    params: list[Param] = []
    for wire_type, kind in (
        ("NewMessage", "new_message"),
        ("AddedToChannel", "added_to_channel"),
        ("RemovedFromChannel", "removed_from_channel"),
        ("InvitedToChannel", "invited_to_channel"),
    ):
        prefix = f"Notifications.{wire_type}."
        params += [
            Param(prefix + "Enabled", f"{kind}_enabled", Kind.BOOL),
            Param(
                prefix + "Template",
                f"{kind}_template",
                max_len=TEMPLATE_MAX,
                len_code=50058,
                nullable=True,
            ),
            Param(prefix + "Sound", f"{kind}_sound", nullable=True),
        ]
        if kind == "new_message":
            params.append(
                Param(prefix + "BadgeCountEnabled", f"{kind}_badge_count_enabled", Kind.BOOL)
            )
    params.append(Param("Notifications.LogEnabled", "notifications_log_enabled", Kind.BOOL))
    return tuple(params)


def _role(wire: str, name: str, code: int) -> Param:
    return Param(wire, name, Kind.SID, prefix="RL", code=code)


def _retry(wire: str, name: str) -> Param:
    return Param(wire, name, Kind.INT, lo=0, hi=3, code=50065)


CREATE = (Param("FriendlyName", "friendly_name", required=True, max_len=NAME_MAX, len_code=50003),)

UPDATE = (
    Param("FriendlyName", "friendly_name", max_len=NAME_MAX, len_code=50003),
    _role("DefaultServiceRoleSid", "default_service_role_sid", 50100),
    _role("DefaultChannelRoleSid", "default_channel_role_sid", 50101),
    _role("DefaultChannelCreatorRoleSid", "default_channel_creator_role_sid", 50101),
    Param("ReadStatusEnabled", "read_status_enabled", Kind.BOOL),
    Param("ReachabilityEnabled", "reachability_enabled", Kind.BOOL),
    Param("TypingIndicatorTimeout", "typing_indicator_timeout", Kind.INT, lo=0, code=50053),
    Param("ConsumptionReportInterval", "consumption_report_interval", Kind.INT, lo=0, code=50052),
    *_notification_params(),
    Param(
        "PreWebhookUrl", "pre_webhook_url", Kind.URL, code=50054, nullable=True, refused_code=50077
    ),
    Param(
        "PostWebhookUrl",
        "post_webhook_url",
        Kind.URL,
        code=50054,
        nullable=True,
        refused_code=50078,
    ),
    Param("WebhookMethod", "webhook_method", Kind.ENUM, choices=("GET", "POST"), code=50055),
    Param(
        "WebhookFilters",
        "webhook_filters",
        Kind.ENUM,
        many=True,
        choices=ALL_EVENTS,
        code=50054,
        nullable=True,
    ),
    Param("Limits.ChannelMembers", "limits_channel_members", Kind.INT, lo=1, hi=1000, code=50061),
    Param("Limits.UserChannels", "limits_user_channels", Kind.INT, lo=1, hi=1000, code=50060),
    Param("Media.CompatibilityMessage", "media_compatibility_message", nullable=True),
    _retry("PreWebhookRetryCount", "pre_webhook_retry_count"),
    _retry("PostWebhookRetryCount", "post_webhook_retry_count"),
)


async def create(call: Call) -> services.Service:
    return await services.create(call.tx, call.account_sid, call.values["friendly_name"])


async def fetch(call: Call) -> services.Service:
    return await scope.service(call, "Sid")


async def update(call: Call) -> services.Service:
    return await services.update(call.tx, await scope.service(call, "Sid"), call.values)


async def delete(call: Call) -> None:
    await service_delete.delete(call.tx, await scope.service(call, "Sid"))


async def list_(call: Call) -> list[Row]:
    return await call.listing(services.TABLE, {"account_sid": call.account_sid})


OPERATIONS = [
    Operation("create", "/v2/Services", SERVICE, create, CREATE),
    Operation("list", "/v2/Services", SERVICE, list_),
    Operation("fetch", "/v2/Services/{Sid}", SERVICE, fetch),
    Operation("update", "/v2/Services/{Sid}", SERVICE, update, UPDATE),
    Operation("delete", "/v2/Services/{Sid}", SERVICE, delete),
]
