"""Webhook delivery lag: commit of an event -> its arrival at a local receiver.

Runs Parley's real write path and delivery worker in this process (the app's
lifespan, no HTTP front end needed for emitting) against a receiver in a child
process (so the two do not share a GIL), on a fresh SQLite file unless
``--database-url`` says otherwise. Each event is committed in its own write
transaction, as an API call would; events are spread over ``--channels``
channels (one ordered lane per channel). ``--rate 0`` emits as fast as the
store allows (a burst: lag then includes queueing behind the burst).

    .venv/bin/python bench/webhook_lag.py [--events 10000] [--channels 100] [--rate 0]

Prints one line: ``webhook_lag events=… p50_ms=… p99_ms=… max_ms=… …``.
"""

import argparse
import asyncio
import multiprocessing
import socket
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from parley import accounts, sids, timefmt
from parley.app import build_app
from parley.config import Settings
from parley.domain import services
from parley.events import Origin, emit


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _receiver(port: int, expected: int, ready: Any, results: Any) -> None:
    """Child process: a minimal keep-alive HTTP/1.1 server recording arrival times."""
    seen: dict[str, float] = {}
    finished: asyncio.Event | None = None  # created inside the loop below

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length) if length else b""
                now = time.time()
                sid = dict(parse_qsl(body.decode())).get("MessageSid")
                if sid and sid not in seen:
                    seen[sid] = now
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
                if len(seen) >= expected and finished is not None:
                    finished.set()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            writer.close()  # closed by the sender, or the receiver is shutting down

    async def serve() -> None:
        nonlocal finished
        finished = asyncio.Event()
        server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=512)
        ready.set()
        async with server:
            await finished.wait()
        results.put(seen)

    asyncio.run(serve())


async def _run(args: argparse.Namespace) -> str:
    port = _free_port()
    ctx = multiprocessing.get_context("spawn")
    ready, results = ctx.Event(), ctx.Queue()
    child = ctx.Process(target=_receiver, args=(port, args.events, ready, results), daemon=True)
    child.start()
    ready.wait(30)

    with tempfile.TemporaryDirectory() as folder:
        settings = Settings()
        settings.database_url = args.database_url or f"sqlite:///{Path(folder) / 'lag.db'}"
        settings.webhook_poll = 0.05
        settings.webhook_concurrency = args.concurrency
        settings.allow_private_webhooks = True  # the receiver is on 127.0.0.1
        app = build_app(settings)
        await app.startup()
        store = app.store
        assert store is not None
        account = await accounts.create_account(store, "bench")
        async with store.write() as tx:
            service = await services.create(tx, account["sid"], "bench")
            await services.update(
                tx,
                service,
                {
                    "post_webhook_url": f"http://127.0.0.1:{port}/hook",
                    "webhook_filters": ["onMessageSent"],
                },
            )
        channels = [sids.new_sid(sids.CHANNEL) for _ in range(args.channels)]
        committed: dict[str, float] = {}
        started = time.time()
        interval = 1.0 / args.rate if args.rate > 0 else 0.0
        for i in range(args.events):
            row = {
                "sid": sids.new_sid(sids.MESSAGE),
                "account_sid": account["sid"],
                "service_sid": service["sid"],
                "channel_sid": channels[i % len(channels)],
                "idx": i // len(channels),
                "author": "bench",
                "body": f"message {i}",
                "attributes": None,
                "type": "text",
                "date_created": timefmt.now(),
                "date_updated": None,
            }
            async with store.write() as tx:
                await emit(tx, Origin("api", True), "onMessageSent", row)
            committed[row["sid"]] = time.time()
            if interval:
                await asyncio.sleep(max(0.0, started + (i + 1) * interval - time.time()))
            elif i % 50 == 0:
                await asyncio.sleep(0)  # let the worker run between commits, as a server would
        emitted = time.time() - started
        loop = asyncio.get_running_loop()
        seen: dict[str, float] = await loop.run_in_executor(None, results.get, True, args.timeout)
        total = max(seen.values()) - started
        await app.shutdown()
    child.join(10)

    lags = sorted((seen[sid] - at) * 1000 for sid, at in committed.items() if sid in seen)
    missing = len(committed) - len(lags)
    p50 = statistics.median(lags)
    p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))]
    engine = settings.database_url.split(":", 1)[0]
    return (
        f"webhook_lag events={args.events} channels={args.channels} engine={engine}"
        f" rate={'burst' if not args.rate else args.rate} p50_ms={p50:.1f} p99_ms={p99:.1f}"
        f" max_ms={lags[-1]:.1f} emit_s={emitted:.2f} total_s={total:.2f}"
        f" delivered_per_s={len(lags) / total:.0f} missing={missing}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--channels", type=int, default=100)
    parser.add_argument("--rate", type=float, default=0.0, help="events/s; 0 = burst")
    parser.add_argument("--concurrency", type=int, default=32, help="lanes in flight")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--timeout", type=float, default=600.0)
    print(asyncio.run(_run(parser.parse_args(argv))))


if __name__ == "__main__":
    main()
