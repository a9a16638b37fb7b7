"""``build_app(settings)``: one ASGI app, one lifespan that wires everything.

::

    lifespan (Parley.lifespan: @asynccontextmanager + AsyncExitStack, undone in reverse)
      open + migrate the store, with the projectors (PROJECTORS: webhook deliveries,
        pushes, Sync view)
        -> ensure the configured account
        -> bus (memory, or Redis across processes) -> store.on_commit = bus.publish
        -> the pre-event caller -> Runtime (frozen: settings, store, bus, health,
           prehooks, vault), handed to every component at construction
        -> components: REST API, media uploads and janitor, the web console
           (/console, parley/console), health and metrics, webhook worker and push
           sender (woken by the bus, poll their outboxes), real-time (sessions, Sync
           hub, presence, gateway, typing signals), control plane with the routes
           and reset hooks of the subsystems
    http:       mounts by prefix, else api.http.RestApi (the REST request flow)
    websocket:  mounts by prefix, else closed

Components never look each other up through the app: what one needs is passed
to it here. The app keeps references to them only for probes and tests.
"""

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

from parley import accounts, health, media, metrics, push, vault
from parley.api.http import RestApi
from parley.api.operations import OPERATIONS
from parley.api.router import Router
from parley.config import Settings
from parley.control.http import PREFIX as CONTROL_PREFIX
from parley.control.http import ControlPlane, Route
from parley.events.bus import Bus, make_bus
from parley.push import plan as push_plan
from parley.push import routes as push_routes
from parley.realtime import gateway as realtime_gateway
from parley.realtime import routes as realtime_routes
from parley.realtime import simulate
from parley.realtime.chat import reachability, users
from parley.realtime.subscriptions import Hub
from parley.realtime.v2 import session as v2_session
from parley.runtime import Runtime
from parley.store import Projector, Store, open_store
from parley.sync import projection
from parley.webhooks import Worker as WebhookWorker
from parley.webhooks import outbox
from parley.webhooks import routes as webhook_routes
from parley.webhooks.prehook import PreHooks

log = logging.getLogger("parley")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# what every write transaction runs on each event it records, in this order:
# the webhook deliveries and the pushes it plans, then the Sync view clients read
PROJECTORS: tuple[Projector, ...] = (outbox.plan, push_plan.plan, projection.project)


def _logged(stop: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
    """A shutdown step whose failure is logged, so the steps after it still run."""

    async def step() -> None:
        try:
            await stop()
        except Exception:
            log.exception("shutdown step failed")

    return step


class Parley:
    """The ASGI application. Its components exist while the lifespan runs."""

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
        self.runtime: Runtime | None = None
        # (path prefix, ASGI app) tried before the REST API, for HTTP and WebSocket
        self.mounts: list[tuple[str, ASGIApp]] = []
        self._prefixes: tuple[str, ...] = ()  # the mounts' prefixes, for one test
        # the running components, for probes and tests (None outside the lifespan)
        self.store: Store | None = None
        self.api: RestApi | None = None
        self.prehooks: PreHooks | None = None
        self.webhooks: WebhookWorker | None = None
        self.pushes: push.Worker | None = None
        self.control: ControlPlane | None = None  # /parley/v1/…, when enabled
        self.gateway: realtime_gateway.Gateway | None = None
        self.sync_hub: Hub | None = None
        self._lifespan_stack: contextlib.AsyncExitStack | None = None
        self._workers_alive: Callable[[], dict[str, bool]] | None = None

    @contextlib.asynccontextmanager
    async def lifespan(self) -> AsyncIterator[Runtime]:
        settings = self.settings
        async with contextlib.AsyncExitStack() as stack:
            store = await open_store(settings.database_url, PROJECTORS)
            stack.push_async_callback(_logged(store.close))
            if settings.account_sid and settings.auth_token:
                await accounts.create_account(
                    store, "configured", sid=settings.account_sid, auth_token=settings.auth_token
                )
            await self.bus.start()
            stack.push_async_callback(_logged(self.bus.close))
            store.on_commit = self.bus.publish
            prehooks = PreHooks(store, settings)
            stack.push_async_callback(_logged(prehooks.close))
            runtime = Runtime(
                settings=settings,
                store=store,
                bus=self.bus,
                health=self.health,
                prehooks=prehooks,
                # credential secrets: PARLEY_SECRET_KEY, else a generated key file
                vault=vault.load(
                    settings.secret_key, settings.database_url, settings.secret_key_file
                ),
            )
            api = RestApi(
                store,
                self.router,
                settings.base_url,
                runtime.vault,
                allow_private_webhooks=settings.allow_private_webhooks,
                metrics=self.metrics,
            )
            mounts: list[tuple[str, ASGIApp]] = [
                (media.PREFIX, media.MediaApi(store, api.auth, settings, self.metrics))
            ]
            janitor = media.Janitor(store, settings.media_unattached_ttl)
            janitor.start()
            stack.push_async_callback(_logged(janitor.stop))
            if settings.console:
                from parley.console import PREFIX as CONSOLE_PREFIX
                from parley.console import Console, pages

                mounts.append((CONSOLE_PREFIX, Console(api, pages.ROUTES, pages.sign_out)))

            worker: WebhookWorker | None = None
            if settings.webhook_worker:
                # post-event delivery: woken after commits, and polling for what
                # other processes (or this one before a restart) left behind
                worker = WebhookWorker(store, settings, self.health)
                await worker.start()
                stack.push_async_callback(_logged(worker.stop))
                stack.callback(self.bus.subscribe(worker.notify))
            sender: push.Worker | None = None
            if settings.push_worker:
                # the push sender: woken after commits, polling for what other
                # processes (or this one before a restart) left, and for retries
                sender = push.Worker(store, settings, runtime.vault, self.health)
                await sender.start()
                stack.push_async_callback(_logged(sender.stop))
                stack.callback(self.bus.subscribe(sender.notify))

            # real time: this process's sessions, read by the Sync fan-out and
            # the typing signal; presence in the store, so it holds across processes
            sessions = realtime_gateway.Sessions()
            hub = Hub(runtime, sessions, self.metrics.sync_fanout.observe)
            presence = reachability.Reachability(
                store, reachability.new_node(), settings.presence_heartbeat
            )
            gateway = realtime_gateway.Gateway(
                runtime,
                realtime_routes.build(),
                sessions,
                on_connect=[presence.connected],
                on_disconnect=[presence.disconnected],
                own_events=hub.deliver_to,
            )
            presence.start()
            stack.push_async_callback(_logged(presence.stop))
            stack.callback(self.bus.subscribe(hub.on_events))
            stack.callback(self.bus.on_signal(users.typing_receiver(sessions)))
            hub.start()
            stack.push_async_callback(_logged(hub.stop))
            # version 2's session lists end a day after their last command
            sessions_janitor = v2_session.Janitor(store)
            sessions_janitor.start()
            stack.push_async_callback(_logged(sessions_janitor.stop))
            # sockets are told to reconnect elsewhere before the rest stops
            stack.push_async_callback(_logged(gateway.stop))
            mounts.append((realtime_gateway.PATH, gateway))

            control: ControlPlane | None = None
            if settings.control_plane:
                routes: list[Route] = [
                    *webhook_routes.routes(store),  # deliveries, faults
                    *push_routes.routes(store),  # what was pushed
                    # simulated clients run the client actions by name
                    *simulate.routes(runtime, realtime_routes.actions(), presence),
                ]
                control = ControlPlane(api, settings.admin_token, routes)
                mounts.append((CONTROL_PREFIX, control))

            def workers_alive() -> dict[str, bool]:
                """The background tasks this process runs, and whether each still runs."""
                alive = {}
                if worker is not None:
                    alive["webhook_worker"] = worker.alive
                if sender is not None:
                    alive["push_worker"] = sender.alive
                alive["sync_hub"] = hub.alive
                alive["presence"] = presence.alive
                return alive

            probes = health.HealthApi(self.health, store, workers_alive)
            mounts += [(path, probes) for path in health.PATHS]
            mounts.append((metrics.PATH, metrics.MetricsApi(self.metrics, settings.metrics_token)))
            metrics.install(self.metrics, store, self.health, worker, sender, gateway)

            self.runtime, self.store, self.api, self.prehooks = runtime, store, api, prehooks
            self.webhooks, self.pushes, self.control = worker, sender, control
            self.gateway, self.sync_hub = gateway, hub
            self.mounts, self._workers_alive = mounts, workers_alive
            self._prefixes = tuple(prefix for prefix, _ in mounts)
            try:
                yield runtime
            finally:
                self.mounts, self._workers_alive, self._prefixes = [], None, ()
                self.runtime = self.store = self.api = self.prehooks = None
                self.webhooks = self.pushes = self.control = self.gateway = self.sync_hub = None

    def workers_alive(self) -> dict[str, bool]:
        """The background tasks this process runs, and whether each still runs."""
        return self._workers_alive() if self._workers_alive is not None else {}

    async def startup(self) -> None:
        stack = contextlib.AsyncExitStack()
        await stack.enter_async_context(self.lifespan())
        self._lifespan_stack = stack

    async def drain(self) -> None:
        """Before the server closes connections: tell real-time clients to reconnect
        elsewhere (twilsock 308 offload) rather than see their sockets drop."""
        if self.gateway is not None:
            await self.gateway.stop()

    async def shutdown(self) -> None:
        stack, self._lifespan_stack = self._lifespan_stack, None
        if stack is not None:
            await stack.aclose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind in ("http", "websocket"):
            path = scope["path"]
            # one C-level test of every prefix first: most requests are REST
            if path.startswith(self._prefixes):
                for prefix, handler in self.mounts:
                    if path.startswith(prefix):
                        await handler(scope, receive, send)
                        return
            if kind == "websocket":
                await send({"type": "websocket.close", "code": 1000})
                return
            if self.api is None:
                raise RuntimeError("Parley received a request before its lifespan started")
            await self.api(scope, receive, send)
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
