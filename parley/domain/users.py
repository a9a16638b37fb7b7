"""Users: identities inside a service (docs/behaviour.md §R8).

Users are created explicitly (REST), and implicitly: adding a member with an
unknown identity, and a client's first connection with an access token.
Deleting a user removes what hangs off its identity (``domain/user_delete.py``).
"""

from typing import Any

from parley import sids, timefmt
from parley.domain import roles
from parley.errors import TwilioError, has_nul
from parley.events import Origin, emit
from parley.store import Row, Tx, UniqueViolation, repo

IDENTITY_MAX = 256  # docs/behaviour.md §L3


def check_identity(identity: str) -> str:
    """Identity rules shared by users, members, invites and tokens."""
    if "\x00" in identity:  # docs/security.md, "Bad input"
        raise has_nul("Identity")
    if len(identity) > IDENTITY_MAX:
        raise TwilioError(50207, limit=IDENTITY_MAX)
    if sids.looks_like(sids.USER, identity):
        raise TwilioError(50206, identity=identity)
    return identity


async def find(tx: Tx, service: Row, identity: str) -> Row | None:
    return await repo.get(tx, "users", {"service_sid": service["sid"], "identity": identity})


async def create(
    tx: Tx,
    service: Row,
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
        await repo.insert(tx, "users", row)
    except UniqueViolation:
        raise TwilioError(50201, identity=identity) from None
    await emit(tx, origin, "onUserAdded", row)
    return row


def _new_row(
    service: Row,
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


async def get_or_create(tx: Tx, service: Row, identity: str, origin: Origin) -> tuple[Row, bool]:
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
    if not await repo.insert_if_absent(tx, "users", row):
        winner = await find(tx, service, identity)
        assert winner is not None, "a unique key was taken by a row we cannot see"
        return winner, False
    await emit(tx, origin, "onUserAdded", row)
    return row, True


async def update(tx: Tx, service: Row, user: Row, values: dict[str, Any], origin: Origin) -> Row:
    changes = dict(values)
    if "role_sid" in changes:
        await roles.require(tx, service, changes["role_sid"], roles.DEPLOYMENT, "RoleSid")
    changes["date_updated"] = timefmt.now()
    await repo.update(tx, "users", {"sid": user["sid"]}, changes)
    updated = {**user, **changes}
    await emit(tx, origin, "onUserUpdated", updated)
    return updated
