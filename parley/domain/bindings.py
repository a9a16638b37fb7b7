"""Push bindings: one push registration of one user endpoint (docs/behaviour.md §R10,
docs/behaviour.md §P3).

Bindings are registered by client SDKs (there is no REST create: the SDK's
registrar, parley/realtime/chat/registrations.py) and by ``parley bindings
create``; both call ``register`` here.
``user.is_notifiable`` follows them: true while the user has at least one
binding, false once the last is gone, null if it never had one.
"""

from collections.abc import Sequence
from typing import Any, TypedDict, cast

import orjson

from parley import sids, timefmt
from parley.domain import credentials, services, users
from parley.errors import TwilioError, invalid
from parley.events import Origin, emit
from parley.sids import AccountSid, BindingSid, CredentialSid, ServiceSid, UserSid
from parley.store import Row, Tx, repo

TABLE = "bindings"
"""For the generic REST lookups and pagers (``api/scope.py``, ``Call.listing``)."""


class Binding(TypedDict):
    """A row of ``bindings``, the table this module owns: other modules read
    it through the queries below."""

    seq: int
    sid: BindingSid
    account_sid: AccountSid
    service_sid: ServiceSid
    user_sid: UserSid
    identity: str
    endpoint: str
    credential_sid: CredentialSid | None
    binding_type: str  # one of TYPES
    message_types: str | None  # a JSON list
    address: str | None  # where pushes go, when it is not the endpoint
    date_created: int
    date_updated: int | None


# what the write functions take: a typed row, or one read by the generic
# repository (the REST layer's scope lookups)
BindingRow = Binding | Row


def _binding(row: Row | None) -> Binding | None:
    return cast(Binding, row) if row is not None else None


async def by_sid(tx: Tx, binding_sid: str, service_sid: str | None = None) -> Binding | None:
    """The binding with this SID (in this service, when one is given)."""
    where = {"sid": binding_sid}
    if service_sid is not None:
        where["service_sid"] = service_sid
    return _binding(await repo.get(tx, TABLE, where))


async def by_endpoint(
    tx: Tx, service_sid: str, identity: str, endpoint: str, binding_type: str
) -> Binding | None:
    """The identity's binding of this endpoint and type (the unique key)."""
    key = {
        "service_sid": service_sid,
        "identity": identity,
        "endpoint": endpoint,
        "binding_type": binding_type,
    }
    return _binding(await repo.get(tx, TABLE, key))


async def of_identity(tx: Tx, service_sid: str, identity: str) -> list[Binding]:
    """The identity's bindings, oldest first."""
    where = {"service_sid": service_sid, "identity": identity}
    return [cast(Binding, r) for r in await repo.select(tx, TABLE, where)]


async def existing(tx: Tx, binding_sids: Sequence[str]) -> set[str]:
    """Which of these bindings still exist."""
    return await repo.existing(tx, TABLE, "sid", binding_sids)


async def has_any(tx: Tx, user_sid: str) -> bool:
    """Whether the user has a binding."""
    return await repo.count(tx, TABLE, {"user_sid": user_sid}) > 0


PUSH_COLUMNS = (
    "sid, identity, user_sid, endpoint, address, binding_type, credential_sid, message_types"
)
"""What the push planner reads of a binding."""


async def push_targets(tx: Tx, service_sid: str | None, identity: str | None) -> list[Row]:
    """The identity's bindings (``PUSH_COLUMNS``), oldest first."""
    return await tx.all(
        f"SELECT {PUSH_COLUMNS} FROM bindings"
        " WHERE service_sid = :service AND identity = :identity ORDER BY seq",
        {"service": service_sid, "identity": identity},
    )


async def push_targets_in_channel(tx: Tx, channel_sid: str, author: str) -> list[Row]:
    """The bindings (``PUSH_COLUMNS``) of every member of the channel but
    ``author``, unless muted there (docs/behaviour.md §P9), oldest first: a new
    message's recipients in one statement. It reads ``members`` in its join,
    declared in ``store/tables.py`` ``JOINS``: the rows it returns are bindings."""
    columns = ", ".join(f"b.{c.strip()}" for c in PUSH_COLUMNS.split(","))
    return await tx.all(
        f"SELECT {columns} FROM members m JOIN bindings b ON b.user_sid = m.user_sid"
        " WHERE m.channel_sid = :channel AND m.identity <> :author"
        " AND m.notification_level <> 'muted' ORDER BY b.seq",
        {"channel": channel_sid, "author": author},
    )


TYPES = ("apn", "gcm", "fcm")
# docs/behaviour.md §P3: default all four
MESSAGE_TYPES = ("new_message", "added_to_channel", "invited_to_channel", "removed_from_channel")


async def register(
    tx: Tx,
    service: services.Service,
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
    existing = await by_endpoint(tx, service["sid"], identity, endpoint, binding_type)
    fields: Row = {
        "credential_sid": credential_sid,
        "message_types": orjson.dumps(types).decode(),
        "address": address if address and address != endpoint else None,
    }
    if existing is not None:
        changes = {**fields, "date_updated": now}
        await repo.update(tx, TABLE, {"sid": existing["sid"]}, changes)
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
        await repo.insert(tx, TABLE, row)
        await emit(tx, origin, "parley.binding.created", row)
    if user["is_notifiable"] != 1:
        await users.set_notifiable(tx, user["sid"], True)
    return row


def _message_types(values: list[str]) -> list[str]:
    unique: list[str] = []
    for value in values:
        if value not in MESSAGE_TYPES:
            raise invalid("MessageTypes")
        if value not in unique:
            unique.append(value)
    return unique


async def _check_credential(tx: Tx, service: services.Service, sid: str, binding_type: str) -> None:
    """The credential must be the account's and of the binding's type
    (docs/behaviour.md §P3: ``binding_type`` = the credential's type)."""
    credential = None
    if sids.looks_like(sids.CREDENTIAL, sid):
        credential = await credentials.by_sid(tx, sids.normalise(sid), service["account_sid"])
    if credential is None or credential["type"] != binding_type:
        raise invalid("CredentialSid")


async def delete(tx: Tx, binding: BindingRow, origin: Origin) -> None:
    """Remove one binding; the user stays notifiable while others remain."""
    await repo.delete(tx, TABLE, {"sid": binding["sid"]})
    await emit(tx, origin, "parley.binding.deleted", dict(binding))
    if not await has_any(tx, binding["user_sid"]):
        await users.set_notifiable(tx, binding["user_sid"], False)


async def delete_all(tx: Tx, user: users.UserRow, origin: Origin) -> None:
    """Every binding of a user (user deletion), each with its event."""
    for binding in await repo.select(tx, TABLE, {"user_sid": user["sid"]}):
        await repo.delete(tx, TABLE, {"sid": binding["sid"]})
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


async def forget_service(tx: Tx, service_sid: str) -> None:
    """Every binding of a service being deleted (``service_delete.delete``): no events."""
    await repo.delete(tx, TABLE, {"service_sid": service_sid})
