"""``make bench``: Parley against the ceiling of its own stack, in one run.

::

    for engine in (sqlite, postgres):             fresh file / fresh schema
        seed: account, service, channels          bench/seed.py (through the store)
              1,000 and 1,000,000 messages        INSERT … SELECT, in transactions
        for processes in (1, N):
            start Parley and the ceiling          bench/servers.py (same uvicorn flags)
            for workload, clients:
                wrk Parley, then wrk the ceiling  bench/load.py (fixed duration each)
                peak RSS of each server tree      sampled from /proc during its run
    -> markdown table: bench/results/<time>.md and latest.md, printed

Ratios are taken inside the same run, on the same database, minutes apart, so
a noisy shared machine moves both sides of each ratio together.
"""

import argparse
import asyncio
import base64
import contextlib
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib import error, request

import asyncpg
import orjson

from bench import load, seed, servers
from parley.store import open_store

PG_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
PG_SCHEMA = "parley_bench"
RESULTS = Path(__file__).resolve().parent / "results"
# Parley / ceiling throughput: the goal, and the floor below which a run is short
GOAL, FLOOR = 0.8, 0.6
DEPTH_TARGET = 1.3  # list latency, 1,000,000 / 1,000 messages in the channel
TOKEN = "TOKEN"
MARK_START, MARK_END = "<!-- bench:start -->", "<!-- bench:end -->"


@dataclass(frozen=True, slots=True)
class Workload:
    name: str
    path: str  # under /v2/Services/{service}
    clients: tuple[int, ...]
    body: str | None = None
    status: int = 200
    group: str = ""  # workloads of one group run interleaved (their ratio matters)


@dataclass(slots=True)
class Line:
    engine: str
    processes: int
    workload: str
    clients: int
    results: dict[str, load.Result | str] = field(default_factory=dict)  # app -> result/why not
    rss_mb: dict[str, float] = field(default_factory=dict)
    cpu_us: dict[str, float] = field(default_factory=dict)  # server CPU per request


APPS = {"parley": "parley", "ceiling": "bench.ceiling:build"}


def workloads(fixture: seed.Fixture) -> list[Workload]:
    ch = fixture.channels
    return [
        Workload(
            "create message",
            f"/Channels/{ch['write']}/Messages",
            (1, 8, 32),
            body="Body=Hello+from+wrk&From=bench",
            status=201,
        ),
        Workload("fetch channel", f"/Channels/{ch['small']}", (8,)),
        Workload("list messages, 1k channel", _mid(ch["small"]), (1, 8), group="depth"),
        Workload("list messages, 1M channel", _mid(ch["big"]), (1, 8), group="depth"),
    ]


def _mid(channel: str) -> str:
    # a page from the middle of the channel: keyset paging costs the same at any depth;
    # TOKEN becomes each app's own PageToken for that position (_fill_token)
    return f"/Channels/{channel}/Messages?PageSize=50&PageToken={TOKEN}"


def _token(prefix: str, value: int) -> str:
    raw = base64.urlsafe_b64encode(orjson.dumps(value)).rstrip(b"=").decode()
    return f"P{prefix}{raw}"


def _cursor_column() -> str:
    """The keyset column Parley pages messages by (from its own operation table)."""
    from parley.api.operations import OPERATIONS

    for op in OPERATIONS:
        if op.verb == "list" and op.path.endswith("/Channels/{ChannelSid}/Messages"):
            return op.resource.cursor
    return "idx"


async def _page_tokens(url: str, fixture: seed.Fixture, sizes: dict[str, int]) -> Any:
    """Per app and channel, the PageToken of the page starting mid-channel."""
    column = _cursor_column()
    store = await open_store(url)
    try:
        out: dict[str, dict[str, str]] = {"parley": {}, "ceiling": {}}
        async with store.read() as tx:
            for role, size in sizes.items():
                row = await tx.one(
                    "SELECT * FROM messages WHERE channel_sid = :c AND idx = :i",
                    {"c": fixture.channels[role], "i": size // 2},
                )
                assert row is not None
                out["parley"][role] = _token("A", row[column])
                out["ceiling"][role] = _token("A", row["idx"])
        return out
    finally:
        await store.close()


async def _fresh_postgres(create: bool = True) -> None:
    """Drop the benchmark's own schema (and make it again, empty)."""
    conn = await asyncpg.connect(PG_URL)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE")
        if create:
            await conn.execute(f"CREATE SCHEMA {PG_SCHEMA}")
    finally:
        await conn.close()


async def _postgres_version() -> str | None:
    try:
        conn = await asyncpg.connect(PG_URL, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return None
    try:
        return str(await conn.fetchval("SHOW server_version")).split()[0]
    finally:
        await conn.close()


async def _seed(url: str, small: int, big: int) -> tuple[seed.Fixture, dict[str, float]]:
    store = await open_store(url)
    try:
        fixture = await seed.prepare(store, ["write", "small", "big"])
        took = {
            "small": await seed.fill(store, fixture, fixture.channels["small"], small),
            "big": await seed.fill(store, fixture, fixture.channels["big"], big),
        }
    finally:
        await store.close()
    return fixture, took


def _preflight(url: str, auth: str, work: Workload) -> str | None:
    """One request before the load: a wrong answer would otherwise be timed as speed."""
    data = work.body.encode() if work.body else None
    req = request.Request(url, data=data, headers={"Authorization": f"Basic {auth}"})
    try:
        with request.urlopen(req, timeout=10) as response:
            status = response.status
    except error.HTTPError as exc:
        status = exc.code
    return None if status == work.status else f"answers {status}"


def _run_block(
    engine: str,
    url: str,
    processes: int,
    fixture: seed.Fixture,
    tokens: dict[str, dict[str, str]],
    seconds: float,
    rounds: int,
    only: str | None,
) -> list[Line]:
    auth = base64.b64encode(f"{fixture.account_sid}:{fixture.auth_token}".encode()).decode()
    ports = {app: servers.free_port() for app in APPS}
    parley_env = {"PARLEY_ACCOUNT_SID": fixture.account_sid}
    parley_env["PARLEY_AUTH_TOKEN"] = fixture.auth_token
    ceiling_env = {
        "BENCH_DATABASE_URL": url,
        "BENCH_ACCOUNT_SID": fixture.account_sid,
        "BENCH_AUTH_TOKEN": fixture.auth_token,
        "BENCH_BASE_URL": f"http://127.0.0.1:{ports['ceiling']}",
    }
    lines = []
    with contextlib.ExitStack() as stack:
        # several Parley processes share events through Redis, as deployed (README)
        redis_url = (
            stack.enter_context(servers.redis(servers.free_port())) if processes > 1 else None
        )
        parley = servers.parley_command(ports["parley"], url, processes, redis_url)
        ceiling = servers.uvicorn_command(APPS["ceiling"], ports["ceiling"], processes)
        p_pid = stack.enter_context(servers.serve(parley, parley_env, ports["parley"], processes))
        c_pid = stack.enter_context(
            servers.serve(ceiling, ceiling_env, ports["ceiling"], processes)
        )
        pids = {"parley": p_pid, "ceiling": c_pid}
        chosen = [w for w in workloads(fixture) if not only or only in w.name]
        # (group, clients) -> the cells run interleaved: every app of every workload in it
        batches: dict[tuple[str, int], list[tuple[Line, str, Workload, str]]] = {}
        for work in chosen:
            for clients in work.clients:
                line = Line(engine, processes, work.name, clients)
                lines.append(line)
                batch = batches.setdefault((work.group or work.name, clients), [])
                for app in APPS:
                    target = f"http://127.0.0.1:{ports[app]}/v2/Services/{fixture.service_sid}"
                    target += _fill_token(work.path, tokens[app], fixture)
                    if problem := _preflight(target, auth, work):
                        line.results[app] = problem
                    else:
                        batch.append((line, app, work, target))
        for (_, clients), cells in batches.items():
            # rounds in ABBA order; each cell keeps its best run (noise only slows)
            for turn in range(rounds):
                for line, app, work, target in cells[:: 1 if turn % 2 == 0 else -1]:
                    with servers.Sampler(pids[app]) as sampled:
                        result = load.wrk(target, auth, clients, seconds, work.body)
                    best = line.results.get(app)
                    if not isinstance(best, load.Result) or result.rps > best.rps:
                        line.results[app] = result
                        line.cpu_us[app] = 1e6 * sampled.cpu_seconds / max(result.requests, 1)
                    line.rss_mb[app] = max(line.rss_mb.get(app, 0.0), sampled.peak_mb)
            for line in {id(c[0]): c[0] for c in cells}.values():
                print(_row(line), flush=True)
    return lines


def _fill_token(path: str, tokens: dict[str, str], fixture: seed.Fixture) -> str:
    for role, token in tokens.items():
        if fixture.channels[role] in path:
            return path.replace(TOKEN, token)
    return path


# ----------------------------------------------------------------- report


def _ms(result: load.Result) -> str:
    return f"{result.p50_ms:.1f} / {result.p99_ms:.1f}"


def _row(line: Line) -> str:
    cells = [line.workload, line.engine, str(line.processes), str(line.clients)]
    for app in APPS:
        result = line.results.get(app)
        if isinstance(result, load.Result):
            errors = f" ({result.errors} errors)" if result.errors else ""
            cells += [f"{result.rps:,.0f}{errors}", _ms(result)]
        else:
            cells += [result or "not run", ""]
    cells.append(_ratio(line))
    cells.append(" / ".join(f"{line.cpu_us[a]:.0f}" if a in line.cpu_us else "-" for a in APPS))
    cells.append(" / ".join(f"{line.rss_mb[a]:.0f}" if a in line.rss_mb else "-" for a in APPS))
    return "| " + " | ".join(cells) + " |"


def _ratio(line: Line) -> str:
    p, c = line.results.get("parley"), line.results.get("ceiling")
    if isinstance(p, load.Result) and isinstance(c, load.Result) and c.rps:
        return f"{p.rps / c.rps:.2f}"
    return "-"


HEADER = (
    "| Workload | Engine | Procs | Clients | Parley req/s | Parley p50 / p99 ms "
    "| Ceiling req/s | Ceiling p50 / p99 ms | Parley / ceiling "
    "| Server CPU µs/req Parley / ceiling | Peak RSS MB Parley / ceiling |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|"
)


def _targets(lines: list[Line]) -> list[str]:
    out = []
    for line in lines:
        if _ratio(line) != "-":
            ratio = float(_ratio(line))
            verdict = "meets" if ratio >= GOAL else "below" if ratio >= FLOOR else "SHORT of"
            out.append(
                f"- {line.workload}, {line.engine}, {line.processes} proc, {line.clients} clients: "
                f"Parley / ceiling = {ratio:.2f} ({verdict} the goal {GOAL}"
                + (f", floor {FLOOR})" if verdict != "meets" else ")")
            )
    small = {(x.engine, x.processes, x.clients): x for x in lines if "1k channel" in x.workload}
    for big in (x for x in lines if "1M channel" in x.workload):
        base = small.get((big.engine, big.processes, big.clients))
        for app in APPS:
            b = big.results.get(app)
            s = base.results.get(app) if base else None
            if isinstance(b, load.Result) and isinstance(s, load.Result) and s.p50_ms:
                ratio = b.p50_ms / s.p50_ms
                verdict = "meets" if ratio <= DEPTH_TARGET else "MISSES"
                out.append(
                    f"- list page p50, 1M / 1k messages, {app}, {big.engine}, "
                    f"{big.processes} proc, {big.clients} clients: {ratio:.2f}"
                    + (f" ({verdict} ≤ {DEPTH_TARGET})" if app == "parley" else "")
                )
    return out


def _machine(pg_version: str | None) -> str:
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for text in f:
            if text.startswith("model name"):
                cpu = text.split(":", 1)[1].strip()
                break
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split()
    import uvicorn

    return (
        f"nproc {os.cpu_count()}, {cpu}, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, PostgreSQL {pg_version or 'not reachable'}, "
        f"uvicorn {uvicorn.__version__}, wrk {wrk_version[1] if len(wrk_version) > 1 else '?'}, "
        f"{platform.system()} {platform.release()}"
    )


def report(lines: list[Line], machine: str, notes: list[str], seconds: float, rounds: int) -> str:
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    parts = [
        f"Run {stamp} on: {machine}. Each cell: the best of {rounds} wrk runs of {seconds:g} s"
        " (Parley and ceiling alternating); latency is wrk's, measured at the client.",
        "",
        HEADER,
        *(_row(x) for x in lines),
        "",
        *_targets(lines),
    ]
    if notes:
        parts += ["", *(f"- {n}" for n in notes)]
    return "\n".join(parts) + "\n"


def _write_readme(path: Path, table: str) -> None:
    text = path.read_text()
    start, end = text.index(MARK_START) + len(MARK_START), text.index(MARK_END)
    path.write_text(text[:start] + "\n" + table + text[end:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of each wrk run")
    parser.add_argument("--rounds", type=int, default=2, help="wrk runs per cell (best kept)")
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--workers", type=int, default=max(2, os.cpu_count() or 2))
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--only", help="run only the workloads whose name contains this")
    parser.add_argument("--processes", help="comma-separated process counts (default 1,N)")
    parser.add_argument("--readme", type=Path, help="also replace the README's table")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (make bench installs it: apt-get install -y wrk)")
    started = time.monotonic()
    pg_version = asyncio.run(_postgres_version())
    notes: list[str] = []
    lines: list[Line] = []
    with tempfile.TemporaryDirectory(prefix="parley-bench-") as tmp:
        for engine in args.engines.split(","):
            if engine == "postgres":
                if pg_version is None:
                    notes.append(f"PostgreSQL skipped: {PG_URL} not reachable")
                    continue
                asyncio.run(_fresh_postgres())
                url = f"{PG_URL}?search_path={PG_SCHEMA}"
            else:
                url = f"sqlite:///{tmp}/bench.db"
            fixture, took = asyncio.run(_seed(url, args.small, args.big))
            notes.append(
                f"{engine}: seeded {args.big:,} messages in {took['big']:.1f} s "
                f"({args.small:,} in {took['small']:.1f} s)"
            )
            sizes = {"small": args.small, "big": args.big}
            tokens = asyncio.run(_page_tokens(url, fixture, sizes))
            counts = args.processes or f"1,{args.workers}"
            try:
                for processes in sorted({int(n) for n in counts.split(",")}):
                    lines += _run_block(
                        engine,
                        url,
                        processes,
                        fixture,
                        tokens,
                        args.seconds,
                        args.rounds,
                        args.only,
                    )
            finally:
                if engine == "postgres":  # leave no million rows behind
                    asyncio.run(_fresh_postgres(create=False))
    notes.append(f"whole run: {time.monotonic() - started:.0f} s")
    table = report(lines, _machine(pg_version), notes, args.seconds, args.rounds)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / time.strftime("%Y%m%d-%H%M%S.md", time.gmtime())).write_text(table)
    (RESULTS / "latest.md").write_text(table)
    if args.readme:
        _write_readme(args.readme, table)
    print("\n" + table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
