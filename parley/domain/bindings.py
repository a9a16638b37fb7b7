"""Push bindings: one push registration of one user endpoint (docs/behaviour.md §R10,
docs/behaviour.md §P3).

Bindings are registered by client SDKs (there is no REST create: the SDK's
registrar, parley/realtime/chat/registrations.py) and by ``parley bindings
create``; both call ``register`` here.
``user.is_notifiable`` follows them: true while the user has at least one
binding, false once the last is gone, null if it never had one.
"""

from typing import Any

import orjson

from parley import sids, timefmt
from parley.domain import users
from parley.errors import TwilioError, invalid
from parley.events import Origin, emit
from parley.store import Row, Tx, repo

TYPES = ("apn", "gcm", "fcm")
# docs/behaviour.md §P3: default all four
MESSAGE_TYPES = ("new_message", "added_to_channel", "invited_to_channel", "removed_from_channel")


async def register(
    tx: Tx,
    service: Row,
    identity: str,
    endpoint: str,
    binding_type: str,
    origin: Origin,
    *,
    credential_sid: str | None = None,
    message_types: list[str] | None = None,
    address: str | None = None,
) -> Row:
    """Register (or re-register) a push endpoint for an identity.

    Unique per (service, identity, endpoint, binding type): registering the
    same tuple again replaces the binding's credential, message types and
    address and keeps its SID (docs/behaviour.md §P3). ``address`` is where
    pushes go (the device token / registration id), when it is not the
    endpoint itself (an endpoint from the token's ``endpoint_id``). The user is created with the
    service defaults if new, as a client's first connection would.
    """
    if binding_type not in TYPES:
        raise TwilioError(50209, value=binding_type)
    if not endpoint:
        raise invalid("Endpoint")
    types = list(MESSAGE_TYPES) if message_types is None else _message_types(message_types)
    if credential_sid is not None:
        await _check_credential(tx, service, credential_sid, binding_type)
    user, _ = await users.get_or_create(tx, service, identity, origin)
    key = {
        "service_sid": service["sid"],
        "identity": identity,
        "endpoint": endpoint,
        "binding_type": binding_type,
    }
    now = timefmt.now()
    existing = await repo.get(tx, "bindings", key)
    fields: Row = {
        "credential_sid": credential_sid,
        "message_types": orjson.dumps(types).decode(),
        "address": address if address and address != endpoint else None,
    }
    if existing is not None:
        changes = {**fields, "date_updated": now}
        await repo.update(tx, "bindings", {"sid": existing["sid"]}, changes)
        row = {**existing, **changes}
        await emit(tx, origin, "parley.binding.updated", row)
    else:
        row = {
            "sid": sids.new_sid(sids.BINDING),
            "account_sid": service["account_sid"],
            "service_sid": service["sid"],
            "user_sid": user["sid"],
            **key,
            **fields,
            "date_created": now,
            "date_updated": None,
        }
        await repo.insert(tx, "bindings", row)
        await emit(tx, origin, "parley.binding.created", row)
    if user["is_notifiable"] != 1:
        await repo.update(tx, "users", {"sid": user["sid"]}, {"is_notifiable": 1})
    return row


def _message_types(values: list[str]) -> list[str]:
    unique: list[str] = []
    for value in values:
        if value not in MESSAGE_TYPES:
            raise invalid("MessageTypes")
        if value not in unique:
            unique.append(value)
    return unique


async def _check_credential(tx: Tx, service: Row, sid: str, binding_type: str) -> None:
    """The credential must be the account's and of the binding's type
    (docs/behaviour.md §P3: ``binding_type`` = the credential's type)."""
    credential = None
    if sids.looks_like(sids.CREDENTIAL, sid):
        credential = await repo.get(
            tx, "credentials", {"sid": sids.normalise(sid), "account_sid": service["account_sid"]}
        )
    if credential is None or credential["type"] != binding_type:
        raise invalid("CredentialSid")


async def delete(tx: Tx, binding: Row, origin: Origin) -> None:
    """Remove one binding; the user stays notifiable while others remain."""
    await repo.delete(tx, "bindings", {"sid": binding["sid"]})
    await emit(tx, origin, "parley.binding.deleted", binding)
    if await repo.count(tx, "bindings", {"user_sid": binding["user_sid"]}) == 0:
        await repo.update(tx, "users", {"sid": binding["user_sid"]}, {"is_notifiable": 0})


async def delete_all(tx: Tx, user: Row, origin: Origin) -> None:
    """Every binding of a user (user deletion), each with its event."""
    for binding in await repo.select(tx, "bindings", {"user_sid": user["sid"]}):
        await repo.delete(tx, "bindings", {"sid": binding["sid"]})
        await emit(tx, origin, "parley.binding.deleted", binding)


def describe(row: Row) -> dict[str, Any]:
    """A binding as the CLI prints it (the REST field names)."""
    return {
        "sid": row["sid"],
        "account_sid": row["account_sid"],
        "service_sid": row["service_sid"],
        "user_sid": row["user_sid"],
        "identity": row["identity"],
        "endpoint": row["endpoint"],
        "binding_type": row["binding_type"],
        "credential_sid": row["credential_sid"],
        "message_types": orjson.loads(row["message_types"]) if row["message_types"] else None,
        "date_created": timefmt.to_twilio(row["date_created"]),
        "date_updated": timefmt.to_twilio(row["date_updated"]),
    }
