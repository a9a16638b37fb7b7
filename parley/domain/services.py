"""The Service: top-level container of everything but credentials (docs/behaviour.md §R2)."""

from typing import Any, TypedDict, cast

import orjson

from parley import sids, timefmt
from parley.domain import roles
from parley.sids import AccountSid, RoleSid, ServiceSid
from parley.store import Row, Tx, repo

TABLE = "services"
"""For the generic REST lookups and pager (``api/scope.py``, ``Call.listing``)."""


class Service(TypedDict):
    """A row of ``services``, the table this module owns: other modules read
    and write it through the queries below."""

    seq: int
    sid: ServiceSid
    account_sid: AccountSid
    friendly_name: str | None
    date_created: int
    date_updated: int | None
    default_service_role_sid: RoleSid | None
    default_channel_role_sid: RoleSid | None
    default_channel_creator_role_sid: RoleSid | None
    read_status_enabled: int
    reachability_enabled: int
    typing_indicator_timeout: int
    consumption_report_interval: int
    limits_channel_members: int
    limits_user_channels: int
    pre_webhook_url: str | None
    post_webhook_url: str | None
    webhook_method: str | None
    webhook_filters: str | None  # a JSON list
    pre_webhook_retry_count: int
    post_webhook_retry_count: int
    notifications_log_enabled: int
    new_message_enabled: int
    new_message_template: str | None
    new_message_sound: str | None
    new_message_badge_count_enabled: int | None
    added_to_channel_enabled: int
    added_to_channel_template: str | None
    added_to_channel_sound: str | None
    invited_to_channel_enabled: int
    invited_to_channel_template: str | None
    invited_to_channel_sound: str | None
    removed_from_channel_enabled: int
    removed_from_channel_template: str | None
    removed_from_channel_sound: str | None
    media_compatibility_message: str | None


# docs/behaviour.md §R2, §L1, docs/behaviour.md §P1: a new service
DEFAULTS: dict[str, Any] = {
    "read_status_enabled": 1,
    "reachability_enabled": 0,
    "typing_indicator_timeout": 5,
    "consumption_report_interval": 10,
    "limits_channel_members": 100,
    "limits_user_channels": 250,
    "pre_webhook_url": None,
    "post_webhook_url": None,
    "webhook_method": None,
    "webhook_filters": None,
    "pre_webhook_retry_count": 0,
    "post_webhook_retry_count": 0,
    "notifications_log_enabled": 0,
    "new_message_enabled": 0,
    "new_message_template": None,
    "new_message_sound": None,
    "new_message_badge_count_enabled": None,
    "added_to_channel_enabled": 0,
    "added_to_channel_template": None,
    "added_to_channel_sound": None,
    "invited_to_channel_enabled": 0,
    "invited_to_channel_template": None,
    "invited_to_channel_sound": None,
    "removed_from_channel_enabled": 0,
    "removed_from_channel_template": None,
    "removed_from_channel_sound": None,
    "media_compatibility_message": None,
}

COMPATIBILITY_MESSAGE = "Media messages are not supported by your client"

MEDIA_SIZE_LIMIT_MB = 150

# field -> (role type it must name, Twilio parameter)
_ROLE_POINTERS = {
    "default_service_role_sid": (roles.DEPLOYMENT, "DefaultServiceRoleSid"),
    "default_channel_role_sid": (roles.CHANNEL, "DefaultChannelRoleSid"),
    "default_channel_creator_role_sid": (roles.CHANNEL, "DefaultChannelCreatorRoleSid"),
}


def _service(row: Row | None) -> Service | None:
    return cast(Service, row) if row is not None else None


async def of_account(tx: Tx, account_sid: str) -> list[Service]:
    """The account's services, oldest first."""
    return [cast(Service, r) for r in await repo.select(tx, TABLE, {"account_sid": account_sid})]


async def account_sids(tx: Tx) -> list[str]:
    """Every account with a service."""
    rows = await tx.all("SELECT DISTINCT account_sid FROM services", {})
    return [r["account_sid"] for r in rows]


async def by_sid(tx: Tx, service_sid: str, account_sid: str | None = None) -> Service | None:
    """The service with this SID (in this account, when one is given)."""
    where = {"sid": service_sid}
    if account_sid is not None:
        where["account_sid"] = account_sid
    return _service(await repo.get(tx, TABLE, where))


async def by_name(tx: Tx, account_sid: str, friendly_name: str) -> Service | None:
    """The account's (first) service of this friendly name (seeds name services)."""
    where = {"account_sid": account_sid, "friendly_name": friendly_name}
    return _service(await repo.get(tx, TABLE, where))


async def post_hook(tx: Tx, service_sid: str) -> Row | None:
    """The service's post-event webhook settings: post_webhook_url,
    webhook_method, webhook_filters, post_webhook_retry_count."""
    return await tx.one(
        "SELECT post_webhook_url, webhook_method, webhook_filters, post_webhook_retry_count"
        " FROM services WHERE sid = :sid",
        {"sid": service_sid},
    )


async def create(tx: Tx, account_sid: str, friendly_name: str) -> Service:
    sid = sids.new_sid(sids.SERVICE)
    row: Row = {
        "sid": sid,
        "account_sid": account_sid,
        "friendly_name": friendly_name,
        "date_created": timefmt.now(),
        "date_updated": None,
        **DEFAULTS,
    }
    row.update(await roles.create_defaults(tx, account_sid, sid))
    row["seq"] = await repo.insert(tx, TABLE, row, returning="seq")
    return cast(Service, row)


async def update(tx: Tx, service: Service, values: dict[str, Any]) -> Service:
    """Partial update; every value is validated before anything is written."""
    changes = dict(values)
    for pointer, (kind, wire) in _ROLE_POINTERS.items():
        if pointer in changes:
            await roles.require(tx, service, changes[pointer], kind, wire)
    if "webhook_filters" in changes and changes["webhook_filters"] is not None:
        changes["webhook_filters"] = orjson.dumps(changes["webhook_filters"]).decode()
    for key, value in changes.items():
        if isinstance(value, bool):
            changes[key] = int(value)
    changes["date_updated"] = timefmt.now()
    await repo.update(tx, TABLE, {"sid": service["sid"]}, changes)
    return cast(Service, {**service, **changes})


async def delete_row(tx: Tx, service_sid: str) -> None:
    """Remove the service's row; the cascade is ``domain/service_delete.py``'s."""
    await repo.delete(tx, TABLE, {"sid": service_sid})


def _push_columns(kind: str) -> dict[str, str]:
    """A service's settings for one push type (``kind``: new_message,
    added_to_channel, invited_to_channel, removed_from_channel; docs/push.md):
    the name the push planner reads each by, and its column."""
    return {
        "enabled": f"{kind}_enabled",
        "template": f"{kind}_template",
        "sound": f"{kind}_sound",
        "log_enabled": "notifications_log_enabled",
        "badge": "new_message_badge_count_enabled",
        "read_status_enabled": "read_status_enabled",
    }


async def push_settings(tx: Tx, service_sid: str, kind: str) -> Row | None:
    """What the push planner reads of a service for one push type:
    enabled, template, sound, log_enabled, badge, read_status_enabled."""
    columns = ", ".join(f"{column} AS {name}" for name, column in _push_columns(kind).items())
    return await tx.one(f"SELECT {columns} FROM services WHERE sid = :sid", {"sid": service_sid})


def push_settings_returning(kind: str, service_sid: str, prefix: str) -> dict[str, str]:
    """``push_settings`` as expressions another table's ``UPDATE … RETURNING``
    can add (one scalar subquery each, by the updated row's ``service_sid``
    column, which ``service_sid`` names), each named ``prefix`` + its name:
    the settings without a statement of their own."""
    return {
        prefix + name: f"(SELECT {column} FROM services WHERE sid = {service_sid})"
        for name, column in _push_columns(kind).items()
    }
