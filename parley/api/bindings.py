"""Binding resources: ``/v2/Services/{ServiceSid}/Bindings`` and the per-user
view ``…/Users/{UserSid}/Bindings`` (docs/behaviour.md §R10). Read and delete only:
bindings are registered by clients (``domain.bindings.register``).

https://www.twilio.com/docs/chat/rest/binding-resource
https://www.twilio.com/docs/chat/rest/user-binding-resource
"""

from urllib.parse import quote

from parley import sids
from parley.api import scope
from parley.api.call import Call
from parley.api.table import Field, Kind, Operation, Param, Resource, Row, col, date, json_list, url
from parley.domain import bindings

_COMMON = (
    col("sid"),
    col("account_sid"),
    col("service_sid"),
    date("date_created"),
    date("date_updated"),
    col("endpoint"),
    col("identity"),
    col("credential_sid"),
    col("binding_type"),
    json_list("message_types"),
)


def _user_link(row: Row, base: str) -> dict[str, str]:
    # docs/behaviour.md §R1: Twilio builds binding.links.user with the identity, not the SID
    identity = quote(row["identity"], safe="")
    return {"user": f"{base}/v2/Services/{row['service_sid']}/Users/{identity}"}


BINDING = Resource(
    name="binding",
    key="bindings",
    fields=(*_COMMON, url("/Services/{service_sid}/Bindings/{sid}"), Field("links", _user_link)),
    max_page_size=50,
)
USER_BINDING = Resource(
    name="user_binding",
    key="bindings",
    fields=(
        *_COMMON,
        col("user_sid"),
        url("/Services/{service_sid}/Users/{user_sid}/Bindings/{sid}"),
    ),
    max_page_size=50,
)

TYPE_FILTER = Param(
    "BindingType", "binding_type", Kind.ENUM, many=True, choices=bindings.TYPES, code=50209
)
FILTERS = (TYPE_FILTER, Param("Identity", "identity", many=True))


async def _binding(call: Call) -> Row:
    service = await scope.service(call)
    return await scope.by_sid(
        call, bindings.TABLE, sids.BINDING, call.path_params["Sid"], service_sid=service["sid"]
    )


async def _user_binding(call: Call) -> Row:
    user = await scope.user(call)
    return await scope.by_sid(
        call, bindings.TABLE, sids.BINDING, call.path_params["Sid"], user_sid=user["sid"]
    )


async def list_(call: Call) -> list[Row]:
    service = await scope.service(call)
    return await call.listing(
        bindings.TABLE,
        {"service_sid": service["sid"]},
        any_of={
            "binding_type": call.values.get("binding_type", []),
            "identity": call.values.get("identity", []),
        },
    )


async def fetch(call: Call) -> Row:
    return await _binding(call)


async def delete(call: Call) -> None:
    await bindings.delete(call.tx, await _binding(call), call.origin)


async def list_user(call: Call) -> list[Row]:
    user = await scope.user(call)
    return await call.listing(
        bindings.TABLE,
        {"user_sid": user["sid"]},
        any_of={"binding_type": call.values.get("binding_type", [])},
    )


async def fetch_user(call: Call) -> Row:
    return await _user_binding(call)


async def delete_user(call: Call) -> None:
    await bindings.delete(call.tx, await _user_binding(call), call.origin)


SERVICE_PATH = "/v2/Services/{ServiceSid}/Bindings"
USER_PATH = "/v2/Services/{ServiceSid}/Users/{UserSid}/Bindings"
OPERATIONS = [
    Operation("list", SERVICE_PATH, BINDING, list_, FILTERS),
    Operation("fetch", SERVICE_PATH + "/{Sid}", BINDING, fetch),
    Operation("delete", SERVICE_PATH + "/{Sid}", BINDING, delete),
    Operation("list", USER_PATH, USER_BINDING, list_user, (TYPE_FILTER,)),
    Operation("fetch", USER_PATH + "/{Sid}", USER_BINDING, fetch_user),
    Operation("delete", USER_PATH + "/{Sid}", USER_BINDING, delete_user),
]
