"""What a process knows about its dependencies, and ``/healthz`` / ``/readyz``.

Components (the database, Redis, the workers) ``report`` their state as they
use it; a change of state is logged once (a Redis outage is one warning and,
later, one "back" line, not a line per retry). The endpoints answer from those
reports plus a live look at the database and the workers::

    GET /healthz   200 while the process serves: liveness (never restart a
                   process because its database is down)
    GET /readyz    200 when it can do its work: the database answers and its
                   workers run; 503 otherwise. Redis down is "degraded", still
                   200: the outbox and the pollers carry events meanwhile

Both answer ``{"status": ..., "checks": {name: {"ok", "detail", "since"}}}``
(docs/security.md, "Health and metrics").
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import orjson

from parley import timefmt
from parley.store import Store

log = logging.getLogger("parley.health")

PATHS = ("/healthz", "/readyz")
PROBE_TIMEOUT = 2.0  # seconds the database gets to answer a readiness probe
Reporter = Callable[[bool, str | None], None]


@dataclass(slots=True)
class Check:
    ok: bool
    detail: str | None
    since: int  # timefmt micros of the last change of state


class Health:
    def __init__(self) -> None:
        self.checks: dict[str, Check] = {}

    def report(self, name: str, ok: bool, detail: str | None = None) -> None:
        """Record a component's state; a change (and the first report of a
        problem) is logged once."""
        previous = self.checks.get(name)
        if previous is not None and previous.ok == ok:
            previous.detail = detail
            return
        self.checks[name] = Check(ok, detail, timefmt.now())
        if not ok:
            log.warning("%s is unavailable: %s", name, detail or "no detail")
        elif previous is not None:
            log.warning("%s is available again", name)

    def reporter(self, name: str) -> Reporter:
        def report(ok: bool, detail: str | None) -> None:
            self.report(name, ok, detail)

        return report

    def ok(self, name: str) -> bool:
        check = self.checks.get(name)
        return check is None or check.ok

    def render(self) -> dict[str, Any]:
        return {
            name: {"ok": c.ok, "detail": c.detail, "since": timefmt.to_webhook(c.since)}
            for name, c in sorted(self.checks.items())
        }


Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class HealthApi:
    """The two endpoints, mounted by path; no credentials (load balancers)."""

    def __init__(
        self, health: Health, store: Store, workers: Callable[[], dict[str, bool]]
    ) -> None:
        self.health = health
        self.store = store
        self.workers = workers  # the background tasks this process runs: alive?

    async def __call__(self, scope: Any, receive: Any, send: Send) -> None:
        if scope["type"] != "http":
            await send({"type": "websocket.close", "code": 1000})
            return
        path = scope["path"]
        if path == "/readyz":
            status, body = await self.ready()
        elif path == "/healthz":
            await self._probe_workers()
            status, body = 200, {"status": self._status(), "checks": self.health.render()}
        else:
            status, body = 404, {"status": "unknown path"}
        data = orjson.dumps(body)
        headers = [
            (b"content-type", b"application/json; charset=utf-8"),
            (b"content-length", str(len(data)).encode()),
            (b"cache-control", b"no-store"),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})

    async def ready(self) -> tuple[int, dict[str, Any]]:
        await self._probe_database()
        await self._probe_workers()
        health = self.health
        required = [n for n in health.checks if n != "redis"]
        ready = all(health.ok(n) for n in required)
        return (200 if ready else 503), {"status": self._status(), "checks": health.render()}

    def _status(self) -> str:
        checks = self.health.checks
        if any(not c.ok for n, c in checks.items() if n != "redis"):
            return "unavailable"
        return "ok" if all(c.ok for c in checks.values()) else "degraded"

    async def _probe_database(self) -> None:
        store = self.store
        health = self.health
        started = time.perf_counter()
        try:
            async with asyncio.timeout(PROBE_TIMEOUT):
                async with store.read() as tx:
                    await tx.one("SELECT 1 AS ok")
        except Exception as exc:  # any failure is "not ready", with its reason
            health.report("database", False, f"{type(exc).__name__}: {exc}")
            return
        health.report(
            "database", True, f"answered in {(time.perf_counter() - started) * 1000:.1f} ms"
        )

    async def _probe_workers(self) -> None:
        for name, alive in self.workers().items():
            self.health.report(name, alive, None if alive else "its task has stopped")
