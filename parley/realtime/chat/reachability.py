"""Reachability (push-and-clients.md §5): ``is_online`` follows the user's
sockets when the service has it enabled. The change is a user update, so the
user-info map's ``reachability`` item (client-protocol.md §4) follows through
the projection. Parley itself makes the change (``Origin("system")``): it is no
client action, so no post-event webhook fires for it [inferred].

Simulated connections (``POST /parley/v1/simulate/connect``, ``connect`` /
``disconnect`` here) count like sockets: a user is online while any socket or
simulated connection is."""

from parley.domain import users
from parley.events import Origin
from parley.realtime.gateway import Gateway, Session, connecting_user
from parley.store import Row, repo


def _present(gateway: Gateway, account: str, service: str, identity: str, but: object) -> bool:
    sessions = [s for s in gateway.connected(service, identity) if s is not but and not s.closed]
    return bool(sessions) or gateway.simulated.get((account, service, identity), 0) > 0


async def _set_online(gateway: Gateway, service_sid: str, identity: str, online: bool) -> None:
    store = gateway.app.store
    if store is None:
        return
    async with store.write() as tx:
        service = await repo.get(tx, "services", {"sid": service_sid})
        if service is None or not service["reachability_enabled"]:
            return
        user = await users.find(tx, service, identity)
        if user is None or user.get("is_online") == int(online):
            return
        await users.update(tx, service, user, {"is_online": int(online)}, Origin("system"))


async def _set(session: Session, online: bool) -> None:
    grant = session.grant
    if grant is None:
        return
    gateway = session.gateway
    if _present(gateway, grant.account_sid, grant.service_sid, grant.identity, session):
        return  # online while any session is; offline after the last one
    await _set_online(gateway, grant.service_sid, grant.identity, online)


async def connected(session: Session) -> None:
    await _set(session, True)


async def disconnected(session: Session) -> None:
    await _set(session, False)


async def connect(gateway: Gateway, service: Row, identity: str) -> int:
    """A simulated client connection: the user is created by its first
    connection, as for a socket, and is online. Returns the identity's
    simulated connections."""
    store = gateway.app.store
    assert store is not None
    async with store.write() as tx:
        await connecting_user(tx, service, identity, None)
    key = (service["account_sid"], service["sid"], identity)
    before = _present(gateway, *key, None)
    gateway.simulated[key] = gateway.simulated.get(key, 0) + 1
    if not before:
        await _set_online(gateway, service["sid"], identity, True)
    return gateway.simulated[key]


async def disconnect(gateway: Gateway, service: Row, identity: str) -> int:
    """The end of one simulated connection; offline after the last connection
    of any kind. Returns the simulated connections left."""
    key = (service["account_sid"], service["sid"], identity)
    left = max(0, gateway.simulated.get(key, 0) - 1)
    if left:
        gateway.simulated[key] = left
    else:
        gateway.simulated.pop(key, None)
    if not _present(gateway, *key, None):
        await _set_online(gateway, service["sid"], identity, False)
    return left


def forget(gateway: Gateway, account_sid: str | None) -> None:
    """An account reset drops its simulated connections."""
    for key in [k for k in gateway.simulated if account_sid in (None, k[0])]:
        del gateway.simulated[key]


def install(gateway: Gateway) -> None:
    gateway.on_connect.append(connected)
    gateway.on_disconnect.append(disconnected)
