"""Push fan-out: one message to a channel of 1,000 members, each with one APNs
binding: commit -> the last push at a fake APNs (HTTP/2 over TLS, client
certificate required), and pushes/s.

Runs Parley's real write path and push sender in this process (the app's
lifespan) against the suite's fake APNs (``tests/push/fakes.py``) in a child
process, so the two do not share a GIL; a fresh SQLite file unless
``--database-url`` says otherwise. One warm-up message first opens the
credential's HTTP/2 connection; each measured round is one message.

    .venv/bin/python -m bench.push [--members 1000] [--rounds 3]

Prints one line per round: ``push members=… commit_ms=… last_push_ms=…
pushes_per_s=…`` (commit_ms: the create-message transaction, which plans the
pushes; last_push_ms: from its commit to the last push's arrival), after the
ceiling: ``bare`` rounds of the same requests (same body size, one HTTP/2
connection with the same client certificate, 100 streams) sent by a bare
httpx loop, no Parley; ``ratio`` = Parley's time / the best bare round.
"""

import argparse
import asyncio
import multiprocessing
import os
import tempfile
import time
from pathlib import Path
from typing import Any


def _gateway(expected: Any, ready: Any, results: Any) -> None:
    """Child process: the fake APNs; reports when each round's pushes arrived."""
    import trustme

    from tests.push.fakes import FakeApns

    ca = trustme.CA()
    apns = FakeApns(ca).start()
    ready.put((apns.url, str(apns.cafile), ca.cert_pem.bytes(), ca.private_key_pem.bytes()))
    upto = 0  # hits already looked at: each is read once
    while True:
        prefix, count = expected.get()
        if count == 0:
            break
        deadline = time.monotonic() + 60
        paths: set[str] = set()
        last = 0.0
        while len(paths) < count and time.monotonic() < deadline:
            time.sleep(0.005)
            with apns.lock:
                fresh, upto = apns.hits[upto:], len(apns.hits)
                if len(apns.hits) > 5000:  # keep the fake's heap small
                    apns.hits.clear()
                    upto = 0
            for hit in fresh:
                if hit.path.rsplit("/", 1)[-1].startswith(prefix):
                    paths.add(hit.path)
                    last = max(last, hit.at)
        offset = time.time() - time.perf_counter()  # hit times are perf_counter
        results.put((len(paths), last + offset))
    apns.close()


async def _run(args: argparse.Namespace) -> list[str]:
    ctx = multiprocessing.get_context("spawn")
    expected, ready, results = ctx.Queue(), ctx.Queue(), ctx.Queue()
    child = ctx.Process(target=_gateway, args=(expected, ready, results), daemon=True)
    child.start()
    url, ca_file, ca_cert, ca_key = ready.get(timeout=30)
    os.environ["SSL_CERT_FILE"] = ca_file

    import trustme

    from parley import accounts
    from parley.app import build_app
    from parley.config import Settings
    from parley.domain import bindings, channels, credentials, members, messages, services
    from parley.events import Origin
    from parley.store import repo
    from tests.push.fakes import apns_certificate

    origin = Origin("api")
    lines = []
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings()
        settings.database_url = args.database_url or f"sqlite:///{Path(folder) / 'push.db'}"
        settings.secret_key = "bench-secret-key"
        settings.apns_url = settings.apns_sandbox_url = url
        settings.push_poll = 0.05
        app = build_app(settings)
        await app.startup()
        store, api = app.store, app.api
        assert store is not None and api is not None
        account = await accounts.create_account(store, "bench")
        cert, key = apns_certificate(trustme.CA.from_pem(ca_cert, ca_key))
        rounds: list[tuple[str, Any]] = []
        async with store.write() as tx:
            service = await services.create(tx, account["sid"], "bench")
            limits = {"new_message_enabled": 1, "limits_channel_members": args.members + 1}
            service = await services.update(tx, service, limits)
            credential = await credentials.create(
                tx,
                api.vault,
                account["sid"],
                {"type": "apn", "certificate": cert, "private_key": key, "sandbox": False},
            )
            for r in range(args.rounds + 1):  # round 0: the warm-up, one member
                size = 1 if r == 0 else args.members
                channel = await channels.create(tx, service, {"friendly_name": f"r{r}"}, origin)
                await members.add(tx, service, channel, "author", origin)
                prefix = f"{r:08x}"
                for i in range(size):
                    identity = f"r{r}-user{i}"
                    await members.add(tx, service, channel, identity, origin)
                    await bindings.register(
                        tx,
                        service,
                        identity,
                        f"phone-{r}-{i}",
                        "apn",
                        origin,
                        credential_sid=credential["sid"],
                        address=f"{prefix}{i:056x}",
                    )
                rounds.append((prefix, channel["sid"]))
        bare = [await _bare(url, cert, key, expected, results, args.members, n) for n in range(3)]
        lines += [f"bare members={args.members} last_push_ms={ms:.0f}" for ms in bare]
        for r, (prefix, channel_sid) in enumerate(rounds):
            size = 1 if r == 0 else args.members
            expected.put((prefix, size))
            began = time.perf_counter()
            async with store.write() as tx:
                channel = await repo.get(tx, "channels", {"sid": channel_sid})
                assert channel is not None
                await messages.create(
                    tx, service, channel, {"author": "author", "body": "hi"}, origin
                )
            committed = time.time()
            commit_ms = (time.perf_counter() - began) * 1000
            loop = asyncio.get_running_loop()
            arrived, last = await loop.run_in_executor(None, results.get, True, 120)
            if r == 0:
                continue
            lag = last - committed
            lines.append(
                f"push members={size} engine={settings.database_url.split(':', 1)[0]}"
                f" commit_ms={commit_ms:.1f} last_push_ms={lag * 1000:.0f}"
                f" pushes_per_s={arrived / lag:.0f} arrived={arrived}"
                f" ratio={lag * 1000 / min(bare):.2f}"
            )
        expected.put(("", 0))
        await app.shutdown()
    child.join(10)
    return lines


async def _bare(
    url: str, cert: str, key: str, expected: Any, results: Any, count: int, n: int
) -> float:
    """The ceiling: ``count`` APNs requests from a bare httpx loop (ms until
    the last arrived)."""

    import httpx
    import orjson

    from parley.push import gateways, payload

    context = gateways.tls_context()
    with tempfile.TemporaryDirectory() as folder:
        pem = Path(folder) / "client.pem"
        pem.write_text(cert + key)
        context.load_cert_chain(str(pem))
    body = orjson.dumps(
        payload.apns(
            {
                "type": "twilio.channel.new_message",
                "body": "r1;author: hi",
                "data": {"channel_sid": "CH" + "0" * 32, "message_sid": "IM" + "0" * 32},
            }
        )
    )
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    prefix = f"ba{n:06x}"
    async with httpx.AsyncClient(http2=True, verify=context, limits=limits) as client:
        streams = asyncio.Semaphore(gateways.STREAMS)
        headers = {"apns-topic": gateways.bundle_id(cert), "apns-push-type": "alert"}

        async def one(i: int) -> None:
            async with streams:
                await client.post(f"{url}/3/device/{prefix}{i:056x}", content=body, headers=headers)

        await client.post(f"{url}/3/device/warmup", content=body, headers=headers)
        expected.put((prefix, count))
        began = time.time()
        await asyncio.gather(*(one(i) for i in range(count)))
        loop = asyncio.get_running_loop()
        _, last = await loop.run_in_executor(None, results.get, True, 120)
    return float((last - began) * 1000)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default=None)
    for line in asyncio.run(_run(parser.parse_args(argv))):
        print(line)


if __name__ == "__main__":
    main()
