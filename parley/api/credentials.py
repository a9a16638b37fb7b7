"""Credential resource: ``/v2/Credentials`` (docs/behaviour.md §R11), account-scoped.

The secret parameters are decoded like any other but only ever reach
``domain.credentials``, which seals them; responses render ``public`` rows.

https://www.twilio.com/docs/chat/rest/credential-resource
"""

from parley import sids
from parley.api import scope
from parley.api.call import Call
from parley.api.table import Kind, Operation, Param, Resource, Row, col, date, url
from parley.domain import credentials

CREDENTIAL = Resource(
    name="credential",
    key="credentials",
    fields=(
        col("sid"),
        col("account_sid"),
        col("friendly_name"),
        col("type"),
        col("sandbox"),
        date("date_created"),
        date("date_updated"),
        url("/Credentials/{sid}"),
    ),
    max_page_size=1000,
)

# Secret params keep code 20001: its message names the parameter, never the value.
UPDATE = (
    Param("FriendlyName", "friendly_name", max_len=64, len_code=50003, nullable=True),
    Param("Certificate", "certificate"),
    Param("PrivateKey", "private_key"),
    Param("Sandbox", "sandbox", Kind.BOOL),
    Param("ApiKey", "api_key"),
    Param("Secret", "secret"),
)
CREATE = (
    Param("Type", "type", Kind.ENUM, required=True, choices=credentials.TYPES),
    *UPDATE,
)


async def _credential(call: Call) -> Row:
    return await scope.by_sid(
        call,
        credentials.TABLE,
        sids.CREDENTIAL,
        call.path_params["Sid"],
        account_sid=call.account_sid,
    )


async def create(call: Call) -> Row:
    return await credentials.create(call.tx, call.vault, call.account_sid, call.values)


async def fetch(call: Call) -> Row:
    return credentials.public(await _credential(call))


async def update(call: Call) -> Row:
    return await credentials.update(call.tx, call.vault, await _credential(call), call.values)


async def delete(call: Call) -> None:
    await credentials.delete(call.tx, await _credential(call))


async def list_(call: Call) -> list[Row]:
    rows = await call.listing(credentials.TABLE, {"account_sid": call.account_sid})
    return [credentials.public(row) for row in rows]


OPERATIONS = [
    Operation("create", "/v2/Credentials", CREDENTIAL, create, CREATE),
    Operation("list", "/v2/Credentials", CREDENTIAL, list_),
    Operation("fetch", "/v2/Credentials/{Sid}", CREDENTIAL, fetch),
    Operation("update", "/v2/Credentials/{Sid}", CREDENTIAL, update, UPDATE),
    Operation("delete", "/v2/Credentials/{Sid}", CREDENTIAL, delete),
]
