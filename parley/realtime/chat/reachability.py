"""Reachability (push-and-clients.md §5): ``is_online`` follows the user's
sockets when the service has it enabled. The change is a user update, so the
user-info map's ``reachability`` item (client-protocol.md §4) follows through
the projection. Parley itself makes the change (``Origin("system")``): it is no
client action, so no post-event webhook fires for it [inferred]."""

from parley.domain import users
from parley.events import Origin
from parley.realtime.gateway import Gateway, Session
from parley.store import repo


async def _set(session: Session, online: bool) -> None:
    grant = session.grant
    store = session.gateway.app.store
    if grant is None or store is None:
        return
    others = [s for s in session.gateway.connected(grant.service_sid, grant.identity)]
    others = [s for s in others if s is not session and not s.closed]
    if others:
        return  # online while any session is; offline after the last one
    async with store.write() as tx:
        service = await repo.get(tx, "services", {"sid": grant.service_sid})
        if service is None or not service["reachability_enabled"]:
            return
        user = await users.find(tx, service, grant.identity)
        if user is None or user.get("is_online") == int(online):
            return
        await users.update(tx, service, user, {"is_online": int(online)}, Origin("system"))


async def connected(session: Session) -> None:
    await _set(session, True)


async def disconnected(session: Session) -> None:
    await _set(session, False)


def install(gateway: Gateway) -> None:
    gateway.on_connect.append(connected)
    gateway.on_disconnect.append(disconnected)
