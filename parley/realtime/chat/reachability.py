"""Reachability across processes: ``is_online`` follows the user's connections
on every node, when the service has it enabled (Twilio: "Reachability
Indicators", https://www.twilio.com/docs/chat/reachability-indicators).

Each socket and each simulated connection (``POST /parley/v1/simulate/connect``)
is a row of the ``presence`` table (``realtime/presence.py``) naming the process
that holds it. A user is online while any live row is theirs, whichever
process it is on; this process renews its rows every ``heartbeat`` seconds,
and sweeps the rows other processes stopped renewing (a crashed node), so
their users go offline within ``ttl`` (docs/realtime-protocol.md, "Presence
across processes").

The change is a user update, so the user-info map's ``reachability`` item
follows through the projection, on every node. Parley makes the change
(``Origin("system")``): it is no client action, so no post-event webhook fires
for it (docs/behaviour.md, "Reachability").
"""

import asyncio
import contextlib
import logging
import secrets

from parley import timefmt
from parley.domain import services, users
from parley.events import Origin
from parley.realtime import presence
from parley.realtime.gateway import Session, connecting_user
from parley.realtime.presence import ConnectionId, Kind, Presence
from parley.sids import AccountSid, ServiceSid
from parley.store import Store, Tx

log = logging.getLogger("parley.realtime")


class Reachability:
    """This process's side of presence: its connections' rows, their heartbeat,
    and the sweep of rows whose process stopped renewing them."""

    def __init__(self, store: Store, node: str, heartbeat: float) -> None:
        self.store = store
        self.node = node
        self.heartbeat = heartbeat
        self.ttl = heartbeat * 3  # a row outlives two missed heartbeats
        self._sockets: dict[ConnectionId, Session] = {}
        self._task: asyncio.Task[None] | None = None

    def _expires(self) -> int:
        return timefmt.now() + int(self.ttl * 1_000_000)

    def _row(
        self, connection: ConnectionId, kind: Kind, account: str, service: str, identity: str
    ) -> Presence:
        return Presence(
            connection=connection,
            node=self.node,
            kind=kind,
            account_sid=AccountSid(account),
            service_sid=ServiceSid(service),
            identity=identity,
            expires=self._expires(),
        )

    # sockets (the gateway's connect and disconnect hooks)

    async def connected(self, session: Session) -> None:
        grant = session.grant
        if grant is None:
            return
        connection = ConnectionId(f"{self.node}:{secrets.token_hex(8)}")
        session.extensions["presence"] = connection
        self._sockets[connection] = session
        row = self._row(
            connection, presence.SOCKET, grant.account_sid, grant.service_sid, grant.identity
        )
        await self._change(row, add=True)

    async def disconnected(self, session: Session) -> None:
        connection = session.extensions.get("presence")
        grant = session.grant
        if connection is None or grant is None:
            return
        self._sockets.pop(connection, None)
        row = self._row(
            connection, presence.SOCKET, grant.account_sid, grant.service_sid, grant.identity
        )
        await self._change(row, add=False)

    # simulated connections (the control plane's simulate/connect and /disconnect)

    async def connect(self, service: services.Service, identity: str) -> int:
        """A simulated client connection: the user is created by its first
        connection, as for a socket, and is online. Returns the identity's
        simulated connections (on every node)."""
        async with self.store.write() as tx:
            await connecting_user(tx, service, identity, None)
        connection = ConnectionId(f"{self.node}:sim:{secrets.token_hex(8)}")
        row = self._row(
            connection, presence.SIMULATED, service["account_sid"], service["sid"], identity
        )
        await self._change(row, add=True)
        return await self._simulated(service["sid"], identity)

    async def disconnect(self, service: services.Service, identity: str) -> int:
        """The end of one simulated connection; offline after the last
        connection of any kind. Returns the simulated connections left."""
        async with self.store.read() as tx:
            connection = await presence.one_simulated(tx, service["sid"], identity)
        if connection is not None:
            row = self._row(
                connection, presence.SIMULATED, service["account_sid"], service["sid"], identity
            )
            await self._change(row, add=False)
        return await self._simulated(service["sid"], identity)

    async def _simulated(self, service_sid: str, identity: str) -> int:
        async with self.store.read() as tx:
            return await presence.live(tx, service_sid, identity, timefmt.now(), presence.SIMULATED)

    # one transaction per change: the row, then the user's reachability

    async def _change(self, row: Presence, add: bool) -> None:
        service_sid, identity = row["service_sid"], row["identity"]
        async with self.store.write() as tx:
            service = await services.by_sid(tx, service_sid)
            reachable = service is not None and bool(service["reachability_enabled"])
            if reachable:
                # concurrent changes of one user's connections (on any node)
                # queue behind this row lock, so each counts what the one
                # before committed
                await users.lock(tx, service_sid, identity)
            if add:
                await presence.record(tx, row)
            elif not await presence.remove(tx, row["connection"]):
                return  # another process swept it and settled the user
            if service is not None and reachable:
                await self._settle(tx, service, identity)

    async def _settle(self, tx: Tx, service: services.Service, identity: str) -> None:
        """The user's ``is_online`` from its live connections on every node
        (the service has reachability on)."""
        user = await users.find(tx, service, identity)
        if user is None:
            return
        online = await presence.live(tx, service["sid"], identity, timefmt.now()) > 0
        if bool(user.get("is_online")) != online:
            await users.update(tx, service, user, {"is_online": int(online)}, Origin("system"))

    # the heartbeat

    def start(self) -> None:
        self._task = asyncio.create_task(self._beat(), name="parley-presence")

    @property
    def alive(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat)
            try:
                await self.beat()
            except Exception:
                log.exception("presence heartbeat failed")

    async def beat(self) -> None:
        """Renew this process's rows; put back those of its open sockets that
        another process swept while this one could not renew them (a database
        outage); then sweep what expired."""
        async with self.store.write() as tx:
            held = await presence.renew(tx, self.node, self._expires())
        for connection, session in list(self._sockets.items()):
            grant = session.grant
            if connection in held or session.closed or grant is None:
                continue
            row = self._row(
                connection, presence.SOCKET, grant.account_sid, grant.service_sid, grant.identity
            )
            await self._change(row, add=True)
        await self.sweep()

    async def sweep(self) -> None:
        """Remove expired rows (any process's) and settle their users."""
        async with self.store.read() as tx:
            stale = await presence.expired(tx, timefmt.now())
        for row in stale:
            await self._change(row, add=False)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        # what this process still holds (simulated connections) goes with it
        async with self.store.write() as tx:
            rows = await presence.drop_node(tx, self.node)
        for row in rows:
            async with self.store.write() as tx:
                service = await services.by_sid(tx, row["service_sid"])
                if service is not None and service["reachability_enabled"]:
                    await self._settle(tx, service, row["identity"])


def new_node() -> str:
    """This process's name in the presence table."""
    return secrets.token_hex(8)
