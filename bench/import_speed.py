"""How long `parley import` takes for a large state (default 50,000 messages).

    .venv/bin/python bench/import_speed.py [messages] [target database URL]

Builds the state through the domain actions (one service, one channel, two
members, N messages), exports it with `parley export`, then times
`parley import` of that dump into an empty SQLite database (or the given
target, e.g. a PostgreSQL database), progress bar and all. Prints the
figures; no assertion (a measurement, not a test).
"""

import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from parley import accounts
from parley.domain import channels, members, messages, services
from parley.events import Origin
from parley.store import open_store

ORIGIN = Origin("system")


async def build(url: str, count: int) -> str:
    store = await open_store(url)
    try:
        account = await accounts.create_account(store, "bench")
        async with store.write() as tx:
            service = await services.create(tx, account["sid"], "bench")
            channel = await channels.create(tx, service, {"unique_name": "big"}, ORIGIN)
            for identity in ("alice", "bob"):
                await members.add(tx, service, channel, identity, ORIGIN)
        for start in range(0, count, 5000):
            async with store.write() as tx:
                for n in range(start, min(start + 5000, count)):
                    values = {"author": "alice" if n % 2 else "bob", "body": f"message {n}"}
                    await messages.create(tx, service, channel, values, ORIGIN)
        return str(account["sid"])
    finally:
        await store.close()


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    parley = [sys.executable, "-m", "parley"]
    with tempfile.TemporaryDirectory() as tmp:
        source, target = f"sqlite:///{tmp}/a.db", f"sqlite:///{tmp}/b.db"
        if len(sys.argv) > 2:
            target = sys.argv[2]
        started = time.perf_counter()
        account = asyncio.run(build(source, count))
        print(f"built {count} messages in {time.perf_counter() - started:.1f} s")
        dump = Path(tmp) / "state.json"
        with dump.open("wb") as out:
            subprocess.run(
                [*parley, "export", "--account", account, "--database-url", source],
                stdout=out,
                check=True,
            )
        print(f"dump: {dump.stat().st_size / 1e6:.1f} MB")
        started = time.perf_counter()
        subprocess.run(
            [*parley, "import", str(dump), "--database-url", target],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        elapsed = time.perf_counter() - started
        print(
            f"parley import: {elapsed:.2f} s for {count} messages"
            f" ({count / elapsed:,.0f} rows/s, process start-up included)"
        )


if __name__ == "__main__":
    main()
