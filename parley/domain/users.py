"""Users: identities inside a service (docs/behaviour.md §R8).

Users are created explicitly (REST), and implicitly: adding a member with an
unknown identity, and a client's first connection with an access token.
Deleting a user removes what hangs off its identity (``domain/user_delete.py``).
"""

from typing import Any, TypedDict, cast

from parley import sids, timefmt
from parley.domain import roles, services
from parley.errors import TwilioError, has_nul
from parley.events import Origin, emit
from parley.sids import AccountSid, RoleSid, ServiceSid, UserSid
from parley.store import Row, Tx, UniqueViolation, repo

IDENTITY_MAX = 256  # docs/behaviour.md §L3

TABLE = "users"
"""For the generic REST lookups and pager (``api/scope.py``, ``Call.listing``)."""


class User(TypedDict):
    """A row of ``users``, the table this module owns: other modules read and
    write it through the queries below."""

    seq: int
    sid: UserSid
    account_sid: AccountSid
    service_sid: ServiceSid
    identity: str
    friendly_name: str | None
    attributes: str | None
    role_sid: RoleSid | None
    joined_channels_count: int
    is_online: int | None
    is_notifiable: int | None
    date_created: int
    date_updated: int | None


# what the write functions take: a typed row, or one read by the generic
# repository (the REST layer's scope lookups)
UserRow = User | Row


def _user(row: Row | None) -> User | None:
    return cast(User, row) if row is not None else None


def check_identity(identity: str) -> str:
    """Identity rules shared by users, members, invites and tokens."""
    if "\x00" in identity:  # docs/security.md, "Bad input"
        raise has_nul("Identity")
    if len(identity) > IDENTITY_MAX:
        raise TwilioError(50207, limit=IDENTITY_MAX)
    if sids.looks_like(sids.USER, identity):
        raise TwilioError(50206, identity=identity)
    return identity


async def find(tx: Tx, service: services.Service, identity: str) -> User | None:
    return await by_identity(tx, service["sid"], identity)


async def by_identity(tx: Tx, service_sid: str, identity: str) -> User | None:
    """The service's user of this identity, if it has one."""
    return _user(await repo.get(tx, TABLE, {"service_sid": service_sid, "identity": identity}))


async def by_sid(tx: Tx, user_sid: str) -> User | None:
    return _user(await repo.get(tx, TABLE, {"sid": user_sid}))


async def of_service(tx: Tx, service_sid: str) -> list[User]:
    """The service's users, oldest first."""
    return [cast(User, r) for r in await repo.select(tx, TABLE, {"service_sid": service_sid})]


async def take_channel_slot(tx: Tx, user_sid: str) -> int:
    """Count one more joined channel; how many the user had before (the row
    stays locked until commit, so ``limits_user_channels`` holds under
    concurrent joins)."""
    return await repo.take(tx, TABLE, {"sid": user_sid}, "joined_channels_count")


async def release_channel_slot(tx: Tx, user_sid: str) -> None:
    """Count one joined channel less (a membership ended)."""
    await repo.bump(tx, TABLE, {"sid": user_sid}, "joined_channels_count", -1)


async def lock(tx: Tx, service_sid: str, identity: str) -> None:
    """Lock the user's row until commit (a no-op write): concurrent changes of
    the user wait here for one another."""
    await tx.run(
        "UPDATE users SET is_online = is_online WHERE service_sid = :s AND identity = :i",
        {"s": service_sid, "i": identity},
    )


async def set_notifiable(tx: Tx, user_sid: str, notifiable: bool) -> None:
    """Whether the user has a push binding (``is_notifiable``)."""
    await repo.update(tx, TABLE, {"sid": user_sid}, {"is_notifiable": int(notifiable)})


async def delete_row(tx: Tx, user_sid: str) -> None:
    """Remove the user's row; the cascade is ``domain/user_delete.py``'s."""
    await repo.delete(tx, TABLE, {"sid": user_sid})


async def create(
    tx: Tx,
    service: services.Service,
    identity: str,
    origin: Origin,
    *,
    role_sid: str | None = None,
    friendly_name: str | None = None,
    attributes: str | None = None,
) -> Row:
    """Create a user; 409 / 50201 when the identity exists (by constraint)."""
    check_identity(identity)
    if role_sid is None:
        role_sid = service["default_service_role_sid"]
    else:
        await roles.require(tx, service, role_sid, roles.DEPLOYMENT, "RoleSid")
    row = _new_row(service, identity, role_sid, friendly_name, attributes)
    try:
        await repo.insert(tx, TABLE, row)
    except UniqueViolation:
        raise TwilioError(50201, identity=identity) from None
    await emit(tx, origin, "onUserAdded", row)
    return row


def _new_row(
    service: services.Service,
    identity: str,
    role_sid: str | None,
    friendly_name: str | None,
    attributes: str | None,
) -> Row:
    return {
        "sid": sids.new_sid(sids.USER),
        "account_sid": service["account_sid"],
        "service_sid": service["sid"],
        "identity": identity,
        "friendly_name": friendly_name,
        "attributes": attributes,
        "role_sid": role_sid,
        "joined_channels_count": 0,
        "is_online": None,
        "is_notifiable": None,
        "date_created": timefmt.now(),
        "date_updated": None,
    }


async def get_or_create(
    tx: Tx, service: services.Service, identity: str, origin: Origin
) -> tuple[UserRow, bool]:
    """The user of this identity, created with the service defaults if new.

    Safe when several requests introduce the same new identity at once: the
    insert yields to a concurrent one (ON CONFLICT DO NOTHING) and the winner's
    row is read back, so nobody gets a spurious 409.
    """
    found = await find(tx, service, identity)
    if found is not None:
        return found, False
    row = _new_row(service, identity, service["default_service_role_sid"], None, None)
    check_identity(identity)
    if not await repo.insert_if_absent(tx, TABLE, row):
        winner = await find(tx, service, identity)
        assert winner is not None, "a unique key was taken by a row we cannot see"
        return winner, False
    await emit(tx, origin, "onUserAdded", row)
    return row, True


async def update(
    tx: Tx, service: services.Service, user: UserRow, values: dict[str, Any], origin: Origin
) -> Row:
    changes = dict(values)
    if "role_sid" in changes:
        await roles.require(tx, service, changes["role_sid"], roles.DEPLOYMENT, "RoleSid")
    changes["date_updated"] = timefmt.now()
    await repo.update(tx, TABLE, {"sid": user["sid"]}, changes)
    updated = {**user, **changes}
    await emit(tx, origin, "onUserUpdated", updated)
    return updated


async def forget_service(tx: Tx, service_sid: str) -> None:
    """Every user of a service being deleted (``service_delete.delete``): no events."""
    await repo.delete(tx, TABLE, {"service_sid": service_sid})


async def holding_role(tx: Tx, role_sid: str) -> bool:
    """Whether any user holds the role (``role_delete``)."""
    return await repo.get(tx, TABLE, {"role_sid": role_sid}) is not None
