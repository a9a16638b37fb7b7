"""Parley's own cost per request, without the network: ``python -m bench.inproc``.

Calls the ASGI apps (Parley and the ceiling) directly, in this process, on the
benchmark's seeded database, and reports the best per-request time of several
batches. No sockets, no HTTP parser, no load generator sharing the CPU: the
figure moves only when the code does, which is what a before/after of a fix
needs on a noisy machine (``make bench`` gives the end-to-end figures).
"""

import argparse
import asyncio
import base64
import os
import tempfile
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from bench import ceiling, run
from parley.app import build_app
from parley.config import Settings

App = Callable[[Any, Any, Any], Awaitable[None]]


async def _lifespan(app: App, event: str) -> None:
    """Drive one lifespan event (startup or shutdown) through the ASGI interface."""
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, str]:
        if sent:  # after our event is answered, the server would wait forever
            await asyncio.Event().wait()
        return {"type": f"lifespan.{event}"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    task = asyncio.ensure_future(app({"type": "lifespan"}, receive, send))
    while not sent:
        await asyncio.sleep(0)
        if task.done():
            break
    if not task.done():
        task.cancel()
    if not sent or not sent[0]["type"].endswith(".complete"):
        raise RuntimeError(f"lifespan {event} failed: {sent}")


async def _call(app: App, scope: dict[str, Any], body: bytes) -> int:
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def measure(app: App, work: run.Workload, target: str, auth: str, n: int) -> float:
    """Best per-request microseconds over 5 batches of ``n`` requests."""
    path, _, query = target.partition("?")
    headers = [(b"authorization", f"Basic {auth}".encode()), (b"host", b"127.0.0.1")]
    body = (work.body or "").encode()
    if work.body:
        headers.append((b"content-type", b"application/x-www-form-urlencoded"))
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "POST" if work.body else "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": headers,
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 1234),
    }
    status = await _call(app, dict(scope), body)
    if status != work.status:
        raise RuntimeError(f"{path} answered {status}")
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(n):
            await _call(app, dict(scope), body)
        best = min(best, (time.perf_counter() - started) / n)
    return best * 1e6


async def main_async(
    engine: str, n: int, big: int, tmp: str, only: str | None
) -> list[tuple[str, float, float]]:
    if engine == "postgres":
        await run._fresh_postgres()
        url = f"{run.PG_URL}?search_path={run.PG_SCHEMA}"
    else:
        url = f"sqlite:///{tmp}/inproc.db"
    fixture, _ = await run._seed(url, 1_000, big)
    tokens = await run._page_tokens(url, fixture, {"small": 1_000, "big": big})
    auth = base64.b64encode(f"{fixture.account_sid}:{fixture.auth_token}".encode()).decode()
    settings = Settings()
    settings.database_url = url
    parley = build_app(settings)
    os.environ.update(
        BENCH_DATABASE_URL=url,
        BENCH_ACCOUNT_SID=fixture.account_sid,
        BENCH_AUTH_TOKEN=fixture.auth_token,
    )
    apps: dict[str, App] = {"parley": parley, "ceiling": ceiling.build()}
    for app in apps.values():
        await _lifespan(app, "startup")
    out = []
    try:
        for work in run.workloads(fixture):
            if only and only not in work.name:
                continue
            times = {}
            for name, app in apps.items():
                target = f"/v2/Services/{fixture.service_sid}"
                target += run._fill_token(work.path, tokens[name], fixture)
                times[name] = await measure(app, work, target, auth, n)
            out.append((work.name, times["parley"], times["ceiling"]))
    finally:
        for app in apps.values():
            await _lifespan(app, "shutdown")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("-n", type=int, default=500, help="requests per batch")
    parser.add_argument("--big", type=int, default=100_000, help="messages in the big channel")
    parser.add_argument("--only", help="only the workloads whose name contains this")
    args = parser.parse_args()
    print("| Workload | Engine | Parley µs/req | Ceiling µs/req | Parley / ceiling (speed) |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="parley-inproc-") as tmp:
        for engine in args.engines.split(","):
            for name, parley_us, ceiling_us in asyncio.run(
                main_async(engine, args.n, args.big, tmp, args.only)
            ):
                ratio = ceiling_us / parley_us
                print(f"| {name} | {engine} | {parley_us:.0f} | {ceiling_us:.0f} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
