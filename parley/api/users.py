"""User resource: ``/v2/Services/{ServiceSid}/Users`` (docs/behaviour.md §R8).

https://www.twilio.com/docs/chat/rest/user-resource
"""

from typing import Any

from parley.api import params, scope
from parley.api.call import Call
from parley.api.table import (
    Field,
    Operation,
    Param,
    Resource,
    Row,
    attributes,
    col,
    date,
    links,
    url,
)
from parley.domain import user_delete, users

INSTANCE = "/Services/{service_sid}/Users/{sid}"
NAME_MAX = 256  # docs/behaviour.md §L3: user FriendlyName not published, suggested

# Handlers of single-user responses mark the row with the service's
# reachability setting; list rows never carry it, so they render null
# (docs/behaviour.md §R8: always null in list responses).
REACHABLE = "_reachability_enabled"


def _reachability(column: str) -> Field:
    """``is_online`` / ``is_notifiable``: null unless the service has
    reachability on and this is a single-user response (docs/behaviour.md §P5)."""

    def get(row: Row, base: str) -> bool | None:
        if not row.get(REACHABLE):
            return None
        value = row[column]
        return None if value is None else bool(value)

    return Field(column, get)


USER = Resource(
    name="user",
    key="users",
    fields=(
        col("sid"),
        col("account_sid"),
        col("service_sid"),
        attributes(),
        col("friendly_name"),
        col("role_sid"),
        col("identity"),
        _reachability("is_online"),
        _reachability("is_notifiable"),
        date("date_created"),
        date("date_updated"),
        col("joined_channels_count"),
        links({"user_channels": INSTANCE + "/Channels", "user_bindings": INSTANCE + "/Bindings"}),
        url(INSTANCE),
    ),
)


# An empty Attributes/FriendlyName clears it (docs/decisions.md §15).
UPDATE = (
    params.role(code=50100),  # a service (deployment) role
    params.attributes(),
    Param("FriendlyName", "friendly_name", max_len=NAME_MAX, len_code=50003, nullable=True),
)
CREATE = (params.identity(), *UPDATE)


async def _single(call: Call, row: Row) -> Row:
    service = await scope.service(call)
    return {**row, REACHABLE: bool(service["reachability_enabled"])}


async def create(call: Call) -> Row:
    values: dict[str, Any] = dict(call.values)
    identity = values.pop("identity")
    row = await users.create(call.tx, await scope.service(call), identity, call.origin, **values)
    return await _single(call, row)


async def fetch(call: Call) -> Row:
    return await _single(call, await scope.user(call, "Sid"))


async def update(call: Call) -> Row:
    service = await scope.service(call)
    user = await scope.user(call, "Sid")
    row = await users.update(call.tx, service, user, call.values, call.origin)
    return await _single(call, row)


async def delete(call: Call) -> None:
    service = await scope.service(call)
    await user_delete.delete(call.tx, service, await scope.user(call, "Sid"), call.origin)


async def list_(call: Call) -> list[Row]:
    service = await scope.service(call)
    return await call.listing(users.TABLE, {"service_sid": service["sid"]})


COLLECTION = "/v2/Services/{ServiceSid}/Users"
OPERATIONS = [
    Operation("create", COLLECTION, USER, create, CREATE),
    Operation("list", COLLECTION, USER, list_),
    Operation("fetch", COLLECTION + "/{Sid}", USER, fetch),
    Operation("update", COLLECTION + "/{Sid}", USER, update, UPDATE),
    Operation("delete", COLLECTION + "/{Sid}", USER, delete),
]
