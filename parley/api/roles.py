"""Role resource: ``/v2/Services/{ServiceSid}/Roles`` (docs/behaviour.md §R7, §A).

https://www.twilio.com/docs/chat/rest/role-resource
"""

from parley import sids
from parley.api import scope
from parley.api.call import Call
from parley.api.table import Kind, Operation, Param, Resource, Row, col, date, json_list, url
from parley.domain import role_delete, roles

ROLE = Resource(
    name="role",
    key="roles",
    fields=(
        col("sid"),
        col("account_sid"),
        col("service_sid"),
        col("friendly_name"),
        col("type"),
        json_list("permissions"),
        date("date_created"),
        date("date_updated"),
        url("/Services/{service_sid}/Roles/{sid}"),
    ),
)

CREATE = (
    Param("FriendlyName", "friendly_name", required=True, max_len=64, len_code=50003),
    Param(
        "Type",
        "type",
        Kind.ENUM,
        required=True,
        choices=(roles.CHANNEL, roles.DEPLOYMENT),
        code=50105,
    ),
    Param("Permission", "permissions", required=True, many=True),
)
UPDATE = (Param("Permission", "permissions", required=True, many=True),)


async def _role(call: Call) -> Row:
    service = await scope.service(call)
    return await scope.by_sid(
        call, roles.TABLE, sids.ROLE, call.path_params["Sid"], service_sid=service["sid"]
    )


async def create(call: Call) -> Row:
    return await roles.create(call.tx, await scope.service(call), call.values)


async def fetch(call: Call) -> Row:
    return await _role(call)


async def update(call: Call) -> Row:
    return await roles.update(call.tx, await _role(call), call.values)


async def delete(call: Call) -> None:
    role = await _role(call)
    await role_delete.delete(call.tx, await scope.service(call), role)


async def list_(call: Call) -> list[Row]:
    service = await scope.service(call)
    return await call.listing(roles.TABLE, {"service_sid": service["sid"]})


COLLECTION = "/v2/Services/{ServiceSid}/Roles"
OPERATIONS = [
    Operation("create", COLLECTION, ROLE, create, CREATE),
    Operation("list", COLLECTION, ROLE, list_),
    Operation("fetch", COLLECTION + "/{Sid}", ROLE, fetch),
    Operation("update", COLLECTION + "/{Sid}", ROLE, update, UPDATE),
    Operation("delete", COLLECTION + "/{Sid}", ROLE, delete),
]
