"""What ``/metrics`` costs a request: ``python -m bench.metrics_cost``.

One Parley app in this process (SQLite, the benchmark's seed), fetch channel
and create message called through the ASGI interface in alternating batches,
with the app's request metrics recorded and with them switched off
(``RestApi.metrics = None``), each side first in every other round (ABBA).
Alternating in the same process and minutes cancels most of the noise of a
shared machine. Reported: the best batch of each side, and the median of the
rounds' differences (on minus off), in µs per request.
"""

import argparse
import asyncio
import base64
import statistics
import tempfile

from bench import inproc, run
from parley.app import build_app
from parley.config import Settings


async def main_async(n: int, rounds: int, tmp: str) -> None:
    url = f"sqlite:///{tmp}/metrics.db"
    fixture, _ = await run._seed(url, 1_000, 1_000)
    auth = base64.b64encode(f"{fixture.account_sid}:{fixture.auth_token}".encode()).decode()
    settings = Settings()
    settings.database_url = url
    app = build_app(settings)
    await inproc._lifespan(app, "startup")
    assert app.api is not None
    recording = app.api.metrics
    try:
        for work in run.workloads(fixture)[:2]:
            target = f"/v2/Services/{fixture.service_sid}{work.path}"
            seen: dict[str, list[float]] = {"on": [], "off": []}
            for turn in range(rounds):
                # ABBA: each side goes first in every other round
                for side in ("on", "off") if turn % 2 == 0 else ("off", "on"):
                    app.api.metrics = recording if side == "on" else None
                    seen[side].append(await inproc.measure(app, work, target, auth, n))
            on, off = min(seen["on"]), min(seen["off"])
            paired = statistics.median(a - b for a, b in zip(seen["on"], seen["off"], strict=True))
            print(f"| {work.name} | {off:.1f} | {on:.1f} | {paired:+.1f} | {paired / off:+.1%} |")
    finally:
        app.api.metrics = recording
        await inproc._lifespan(app, "shutdown")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=500, help="requests per batch")
    parser.add_argument("--rounds", type=int, default=6, help="alternations of the two sides")
    args = parser.parse_args()
    print(
        "| Workload | metrics off µs/req (best) | metrics on µs/req (best)"
        " | difference (median of rounds) | relative |"
    )
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="parley-metrics-") as tmp:
        asyncio.run(main_async(args.n, args.rounds, tmp))


if __name__ == "__main__":
    main()
