"""Server processes under test and their peak memory.

Parley runs as deployed (``parley serve``); the ceiling runs on ``uvicorn`` with the
flags ``parley serve`` passes to ``uvicorn.run`` (httptools, uvloop, no access log,
lifespan on). N processes are uvicorn's ``--workers N`` for both: one listening
socket shared by N worker processes.

Every server binds 127.0.0.1 only, runs in its own session, and is stopped
(SIGTERM, then SIGKILL of its process group) when the ``with`` block ends.
"""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tree(root: int) -> list[int]:
    """``root`` and all its descendants, from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(parents.get(pid, ()))
    return found


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cpu_ticks(pid: int) -> int:
    """utime + stime of one process, in clock ticks."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


class Sampler:
    """While a run lasts: the peak of a process tree's summed RSS (sampled every
    50 ms) and the CPU time the tree used. CPU time per request is the figure
    least moved by other load on a shared machine."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.peak_kb = 0
        self.cpu_seconds = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        pids = _tree(self.root)
        ticks = 0
        while not self._stop.wait(0.05):
            ticks += 1
            if ticks % 20 == 0:  # workers may be replaced; rescan each second
                pids = _tree(self.root)
            self.peak_kb = max(self.peak_kb, sum(_rss_kb(p) for p in pids))

    def _ticks(self) -> int:
        return sum(_cpu_ticks(p) for p in _tree(self.root))

    def __enter__(self) -> "Sampler":
        self.peak_kb = sum(_rss_kb(p) for p in _tree(self.root))
        self._ticks_before = self._ticks()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.cpu_seconds = (self._ticks() - self._ticks_before) / os.sysconf("SC_CLK_TCK")

    @property
    def peak_mb(self) -> float:
        return self.peak_kb / 1024


def parley_command(port: int, database_url: str, workers: int, redis_url: str | None) -> list[str]:
    """Parley as it is deployed: ``parley serve`` (uvicorn.run, workers from ``--workers``)."""
    command = [sys.executable, "-m", "parley", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--database-url", database_url, "--log-level", "warning"]
    command += ["--workers", str(workers)]
    return command + (["--redis-url", redis_url] if redis_url else [])


def uvicorn_command(app: str, port: int, workers: int) -> list[str]:
    """Any other ASGI app on uvicorn with the flags ``parley serve`` passes it."""
    command = [sys.executable, "-m", "uvicorn", "--factory", app]
    command += ["--host", "127.0.0.1", "--port", str(port), "--lifespan", "on"]
    command += ["--no-access-log", "--log-level", "warning"]
    return command + (["--workers", str(workers)] if workers > 1 else [])


@contextmanager
def serve(
    command: list[str], env: dict[str, str], port: int, workers: int, quiet: bool = False
) -> Iterator[int]:
    """Run a server on 127.0.0.1:port until the block ends; yields its pid."""
    output = subprocess.DEVNULL if quiet else None
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env={**os.environ, **env},
        start_new_session=True,
        stdout=output,
        stderr=output,
    )
    try:
        _wait_ready(process, port, workers)
        yield process.pid
    finally:
        _stop(process)


@contextmanager
def redis(port: int) -> Iterator[str]:
    """A private, memory-only Redis for the multi-process runs (the machine's shared
    Redis carries other Parleys' ``parley:events``); yields its URL."""
    command = ["redis-server", "--bind", "127.0.0.1", "--port", str(port)]
    command += ["--save", "", "--appendonly", "no", "--loglevel", "warning"]
    with serve(command, {}, port, 1, quiet=True):
        yield f"redis://127.0.0.1:{port}/0"


def _wait_ready(process: subprocess.Popen[bytes], port: int, workers: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                # with --workers the socket accepts before every worker is up
                time.sleep(1.0 if workers > 1 else 0.1)
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not start within 60 s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            process.wait(15)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # stragglers of this server's own group
    process.wait()
