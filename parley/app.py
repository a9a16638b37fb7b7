"""``build_app(settings)``: one ASGI app, one lifespan that wires everything.

::

    lifespan start: open + migrate store -> ensure the configured account
                    -> bus (memory, or Redis across processes) -> store.on_commit = bus.publish
                    -> mounts (other endpoints by path prefix: media uploads, control plane,
                       /v3/wsconnect -> realtime.gateway (twilsock), /console -> the
                       web console (parley/console), ...)
                       and background workers
                       (webhook delivery worker: woken by the bus, polls the outbox;
                       push sender: the same for the push outbox)
                    health (/healthz, /readyz: parley/health.py)
    http:           mounts by prefix, else api.http.RestApi (the REST request flow)
    websocket:      mounts by prefix, else closed
    lifespan stop:  stop workers, close bus, close store
"""

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from parley import accounts, health, media, metrics, push, vault
from parley.api.http import RestApi
from parley.api.operations import OPERATIONS
from parley.api.router import Router
from parley.config import Settings
from parley.control.http import PREFIX as CONTROL_PREFIX
from parley.control.http import ControlPlane
from parley.events.bus import Bus, make_bus
from parley.push import routes as push_routes
from parley.store import Store, open_store
from parley.webhooks import Worker as WebhookWorker
from parley.webhooks import routes as webhook_routes
from parley.webhooks.prehook import PreHooks

if TYPE_CHECKING:
    from parley.realtime.gateway import Gateway
    from parley.sync.subscriptions import Hub

log = logging.getLogger("parley")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class Parley:
    """The ASGI application. State lives here once the lifespan has started."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.router = Router(OPERATIONS)
        # dependencies' states, logged once per change and served by /readyz
        self.health = health.Health()
        # Prometheus metrics at /metrics; subsystems add theirs to metrics.registry
        self.metrics = metrics.ParleyMetrics()
        self.bus: Bus = make_bus(
            settings.redis_url, self.health.reporter("redis"), self.metrics.bus_lag.observe
        )
        self.store: Store | None = None
        self.api: RestApi | None = None
        self.webhooks: WebhookWorker | None = None
        self.pushes: push.Worker | None = None
        # synchronous pre-event calls for client actions (webhooks.md §4)
        self.prehooks: PreHooks | None = None
        self.control: ControlPlane | None = None  # /parley/v1/…, when enabled
        # (path prefix, ASGI app) tried before the REST API, for HTTP and WebSocket
        self.mounts: list[tuple[str, ASGIApp]] = []
        # stopped in reverse order at shutdown
        self.stoppers: list[Callable[[], Awaitable[None]]] = []
        self.gateway: Gateway | None = None
        self.sync_hub: Hub | None = None

    async def startup(self) -> None:
        settings = self.settings
        store = await open_store(settings.database_url)
        if settings.account_sid and settings.auth_token:
            await accounts.create_account(
                store, "configured", sid=settings.account_sid, auth_token=settings.auth_token
            )
        await self.bus.start()
        store.on_commit = self.bus.publish
        self.store = store
        # credential secrets: PARLEY_SECRET_KEY, else a generated key file
        keys = vault.load(settings.secret_key, settings.database_url, settings.secret_key_file)
        self.api = RestApi(
            store,
            self.router,
            settings.base_url,
            keys,
            allow_private_webhooks=settings.allow_private_webhooks,
            metrics=self.metrics,
        )
        uploads = media.MediaApi(store, self.api.auth, settings, self.metrics)
        self.mounts.append((media.PREFIX, uploads))
        janitor = media.Janitor(store, settings.media_unattached_ttl)
        janitor.start()
        self.stoppers.append(janitor.stop)
        if settings.console:
            from parley.console import PREFIX as CONSOLE_PREFIX
            from parley.console import Console

            self.mounts.append((CONSOLE_PREFIX, Console(self.api)))
        probes = health.HealthApi(self)
        self.mounts += [(path, probes) for path in health.PATHS]
        self.mounts.append((metrics.PATH, metrics.MetricsApi(self.metrics, settings.metrics_token)))
        metrics.install(self)
        prehooks = PreHooks(store, settings)
        self.prehooks = prehooks
        self.stoppers.append(prehooks.close)
        if settings.control_plane:
            self.control = ControlPlane(self.api, settings.admin_token)
            webhook_routes.register(self.control)  # deliveries, faults (parley/webhooks)
            push_routes.register(self.control)  # what was pushed (parley/push)
            self.mounts.append((CONTROL_PREFIX, self.control))
        if settings.webhook_worker:
            # post-event delivery: woken after commits, and polling for what
            # other processes (or this one before a restart) left behind
            worker = WebhookWorker(store, settings, self.health)
            await worker.start()
            self.webhooks = worker
            unsubscribe = self.bus.subscribe(worker.notify)

            async def stop_webhooks() -> None:
                unsubscribe()
                await worker.stop()
                self.webhooks = None

            self.stoppers.append(stop_webhooks)
        if settings.push_worker:
            await self._start_pushes(store, keys)
        self._start_realtime()

    async def _start_pushes(self, store: Store, keys: vault.Vault) -> None:
        """The push sender: woken after commits, polling for what other
        processes (or this one before a restart) left, and for retries."""
        sender = push.Worker(store, self.settings, keys, self.health)
        await sender.start()
        self.pushes = sender
        unsubscribe = self.bus.subscribe(sender.notify)

        async def stop_pushes() -> None:
            unsubscribe()
            await sender.stop()
            self.pushes = None

        self.stoppers.append(stop_pushes)

    def _start_realtime(self) -> None:
        from parley.realtime import gateway, routes
        from parley.realtime.chat import reachability
        from parley.realtime.v2 import session
        from parley.sync import projection, subscriptions

        projection.install()
        self.gateway = gateway.Gateway(self, routes.build())
        reachability.install(self.gateway)
        if self.control is not None:  # simulated clients run the gateway's own actions
            from parley.realtime import simulate

            simulate.register(self.control, self.gateway)
        self.mounts.append((gateway.PATH, self.gateway))
        self.stoppers.append(self.gateway.stop)
        if self.store is not None:  # version 2's session lists end a day after use
            janitor = session.Janitor(self.store)
            janitor.start()
            self.stoppers.append(janitor.stop)
        # the bus is cleared at shutdown; the Hub needs no unsubscribe
        self.sync_hub = subscriptions.Hub(self)
        self.bus.subscribe(self.sync_hub.on_events)
        self.sync_hub.start()
        self.stoppers.append(self.sync_hub.stop)

    def workers_alive(self) -> dict[str, bool]:
        """The background tasks this process runs, and whether each still runs."""
        alive = {}
        if self.settings.webhook_worker:
            alive["webhook_worker"] = self.webhooks is not None and self.webhooks.alive
        if self.settings.push_worker:
            alive["push_worker"] = self.pushes is not None and self.pushes.alive
        if self.sync_hub is not None:
            alive["sync_hub"] = self.sync_hub.alive
        return alive

    async def drain(self) -> None:
        """Before the server closes connections: tell real-time clients to reconnect
        elsewhere (twilsock 308 offload) rather than see their sockets drop."""
        if self.gateway is not None:
            await self.gateway.stop()

    async def shutdown(self) -> None:
        for stop in reversed(self.stoppers):
            try:
                await stop()
            except Exception:
                log.exception("shutdown step failed")
        self.stoppers.clear()
        self.mounts.clear()
        self.gateway = None
        await self.bus.close()
        if self.store is not None:
            await self.store.close()
            self.store = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind in ("http", "websocket"):
            path = scope["path"]
            for prefix, handler in self.mounts:
                if path.startswith(prefix):
                    await handler(scope, receive, send)
                    return
            if kind == "websocket":
                await send({"type": "websocket.close", "code": 1000})
                return
            if self.api is None:
                raise RuntimeError("Parley received a request before its lifespan started")
            await self.api(dict(scope), receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    log.exception("start-up failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return


def build_app(settings: Settings | None = None) -> Parley:
    return Parley(settings or Settings())


def app_from_env() -> Parley:
    """The factory each ``--workers`` process calls: settings from ``PARLEY_*``."""
    return Parley(Settings())
