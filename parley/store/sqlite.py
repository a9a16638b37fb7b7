"""SQLite engine: WAL, one writer, readers on their own connection.

Statements run synchronously on the event loop: a SQLite statement on a warm
page cache costs microseconds, less than a thread hop (measured in bench/).
Write transactions are serialised by an asyncio lock plus ``BEGIN IMMEDIATE``;
see synapse#8105 for why a single writer is the right shape for SQLite.

Another process may lock the file (a second Parley, a backup, a ``sqlite3``
shell in a transaction). SQLite's own wait (``busy_timeout``) would block the
event loop, and every tenant's request with it, so it is kept to a few
milliseconds; Parley waits for the lock with ``asyncio.sleep`` between tries
instead, up to ``lock_timeout`` seconds from when the transaction was asked
for, then answers 503 (``StoreUnavailable``; docs/security.md, "Faults").
"""

import asyncio
import re
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Any, TypeVar

from parley.store.base import (
    OnCommit,
    Params,
    Projector,
    Row,
    StoreUnavailable,
    UniqueViolation,
)
from parley.store.migrate import migrations, statements

PK = "INTEGER PRIMARY KEY AUTOINCREMENT"
BUSY_TIMEOUT_MS = 20  # SQLite's own (blocking) wait for a lock, per try, once serving
START_BUSY_TIMEOUT_MS = 30_000  # while opening and migrating: nothing is served yet
LOCK_TIMEOUT = 5.0  # seconds Parley waits for a lock, asynchronously, in all
# WAL pages between automatic checkpoints (SQLite's default: 1,000). A created
# message writes ~10 pages (the message, its event, the Sync view's rows and
# their indexes), so 1,000 meant a checkpoint every ~100 messages; most pages
# are the same hot pages written again, and a checkpoint copies each once, so
# a longer interval copies far less in all (in-process create: ~480 -> ~380 us,
# bench/inproc.py). The WAL file grows to ~40 MB between checkpoints, and is
# cut back to WAL_KEEP bytes after one.
WAL_CHECKPOINT_PAGES = 10_000
WAL_KEEP = 4 << 20
_T = TypeVar("_T")


def _locked(exc: sqlite3.OperationalError) -> bool:
    text = str(exc)
    return "database is locked" in text or "database table is locked" in text


async def _until_free(attempt: Callable[[], _T], deadline: float, what: str) -> _T:
    """Retry ``attempt`` while the database is locked, sleeping between tries
    (5 ms, doubling to 100 ms), until ``deadline`` (loop time)."""
    loop = asyncio.get_running_loop()
    pause = 0.005
    while True:
        try:
            return attempt()
        except sqlite3.OperationalError as exc:
            if not _locked(exc):
                raise
            if loop.time() + pause > deadline:
                raise StoreUnavailable(f"the SQLite database is locked ({what})") from exc
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.1)


def _names(cursor: sqlite3.Cursor) -> list[str]:
    # rows come back as tuples and become dicts here, names read once per
    # statement: a per-row ``row_factory`` callback cost ~1 us a row (bench/)
    return [d[0] for d in cursor.description]


async def _execute(conn: sqlite3.Connection, sql: str, deadline: float) -> None:
    try:
        conn.execute(sql)
    except sqlite3.OperationalError as exc:
        if not _locked(exc):
            raise
        await _until_free(lambda: conn.execute(sql), deadline, sql)


_TAKEN = re.compile(r"\btaken\.(\w+)")


@lru_cache(maxsize=256)
def _from_taken(sql: str) -> tuple[str, tuple[str, ...]]:
    """``Tx.chain``'s insert (``INSERT … SELECT … FROM taken``) as a plain
    ``INSERT … VALUES``, each ``taken.<column>`` bound as ``:t_<column>``, and
    the columns it reads: SQLite runs the chain's statements one by one, and
    the ``SELECT`` from a relation of every bound column of the row cost ~3x
    the plain insert (README, "What profiling found and fixed")."""
    head, select, rest = sql.partition(" SELECT ")
    values, from_taken, returning = rest.partition(" FROM taken")
    if not select or not from_taken:
        raise ValueError(f"not an insert from taken: {sql}")
    used = tuple(dict.fromkeys(_TAKEN.findall(values)))
    bound = _TAKEN.sub(r":t_\1", values)
    return f"{head} VALUES ({bound}){returning}", used


class SqliteTx:
    def __init__(
        self,
        conn: sqlite3.Connection,
        deadline: float | None = None,
        projectors: Sequence[Projector] = (),
    ) -> None:
        self._conn = conn
        self.events: list[Any] = []
        self.projectors = projectors
        # loop time after which a locked database is a 503 (a read's own clock
        # starts at its first locked statement)
        self._deadline = deadline

    def _exec(self, sql: str, params: Params | None) -> sqlite3.Cursor:
        try:
            return self._conn.execute(sql, params or {})
        except sqlite3.IntegrityError as exc:
            if "UNIQUE" in str(exc):
                raise UniqueViolation(str(exc)) from exc
            raise

    async def _exec_when_free(
        self, exc: sqlite3.OperationalError, sql: str, params: Params | None
    ) -> sqlite3.Cursor:
        """The slow path of a statement that met a lock: wait without blocking."""
        if not _locked(exc):
            raise exc
        if self._deadline is None:
            self._deadline = asyncio.get_running_loop().time() + LOCK_TIMEOUT
        return await _until_free(lambda: self._exec(sql, params), self._deadline, "statement")

    async def one(self, sql: str, params: Params | None = None) -> Row | None:
        try:
            cursor = self._exec(sql, params)
        except sqlite3.OperationalError as exc:
            cursor = await self._exec_when_free(exc, sql, params)
        row = cursor.fetchone()
        return None if row is None else dict(zip(_names(cursor), row, strict=True))

    async def all(self, sql: str, params: Params | None = None) -> list[Row]:
        try:
            cursor = self._exec(sql, params)
        except sqlite3.OperationalError as exc:
            cursor = await self._exec_when_free(exc, sql, params)
        rows = cursor.fetchall()
        if not rows:
            return []
        names = _names(cursor)
        return [dict(zip(names, row, strict=True)) for row in rows]

    async def run(self, sql: str, params: Params | None = None) -> int:
        try:
            cursor = self._exec(sql, params)
        except sqlite3.OperationalError as exc:
            cursor = await self._exec_when_free(exc, sql, params)
        return cursor.rowcount

    async def sync_sequence(self, table: str) -> None:
        return None  # AUTOINCREMENT already continues past explicit values

    async def chain(
        self, first: str, params: Params, then: Sequence[tuple[str, Params]]
    ) -> Row | None:
        taken = await self.one(first, params)
        if taken is None:
            return None
        out = dict(taken)
        for i, (sql, own) in enumerate(then):
            plain, used = _from_taken(sql)
            bound = dict(own)
            for column in used:
                bound[f"t_{column}"] = taken[column]
            returned = await self.one(plain, bound)
            if returned is not None:
                out.update({f"q{i}_{k}": v for k, v in returned.items()})
        return out

    async def later(self, sql: str, params: Params) -> None:
        # no round trip to save: a statement costs microseconds, run it now
        await self.run(sql, params)

    async def many(self, sql: str, rows: Sequence[Params]) -> None:
        try:
            self._conn.executemany(sql, rows)
        except sqlite3.IntegrityError as exc:
            if "UNIQUE" in str(exc):
                raise UniqueViolation(str(exc)) from exc
            raise


class _Read:
    """``SqliteStore.read()``: a transaction on the reader connection, nothing
    to begin or end. A class rather than an ``@asynccontextmanager`` generator,
    which cost ~2 us of every request (README, "What profiling found and fixed")."""

    __slots__ = ("_conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    async def __aenter__(self) -> SqliteTx:
        return SqliteTx(self._conn)

    async def __aexit__(self, *exc: object) -> None:
        return None


class SqliteStore:
    engine = "sqlite"

    def __init__(self, path: str) -> None:
        self.path = path
        self.on_commit: OnCommit | None = None
        self.projectors: Sequence[Projector] = ()
        self.lock_timeout = LOCK_TIMEOUT
        memory = path in ("", ":memory:")
        self._writer = self._connect(":memory:" if memory else path)
        # an in-memory database has one connection; readers share the writer
        self._reader = self._writer if memory else self._connect(path)
        self._lock = asyncio.Lock()

    @classmethod
    def from_url(cls, url: str) -> "SqliteStore":
        """``sqlite:///relative.db``, ``sqlite:////absolute.db``, ``sqlite://`` for memory."""
        path = url.removeprefix("sqlite:").removeprefix("//")
        return cls(path.removeprefix("/"))

    @staticmethod
    def _connect(path: str) -> sqlite3.Connection:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        # processes starting together on one file (--workers) wait for each
        # other here; migrate() shortens the wait once the schema is ready
        conn.execute(f"PRAGMA busy_timeout={START_BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
        conn.execute(f"PRAGMA journal_size_limit={WAL_KEEP}")
        conn.execute("PRAGMA foreign_keys=OFF")
        return conn

    @asynccontextmanager
    async def write(self) -> AsyncIterator[SqliteTx]:
        # one deadline for the whole wait: behind this process's other writers,
        # then for another process's lock (queued writers must not wait in turn)
        deadline = asyncio.get_running_loop().time() + self.lock_timeout
        if self._lock.locked():
            try:
                async with asyncio.timeout_at(deadline):
                    await self._lock.acquire()
            except TimeoutError:
                raise StoreUnavailable("the SQLite database is busy (writers queued)") from None
        else:
            await self._lock.acquire()  # free: no wait
        try:
            conn = self._writer
            await _execute(conn, "BEGIN IMMEDIATE", deadline)
            tx = SqliteTx(conn, deadline, self.projectors)
            try:
                yield tx
                await _execute(conn, "COMMIT", deadline)
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        finally:
            self._lock.release()
        if tx.events and self.on_commit is not None:
            await self.on_commit(tx.events)

    def read(self) -> "_Read":
        # autocommit reads: each statement sees the latest committed state, and
        # concurrent readers on the shared connection never nest a BEGIN
        return _Read(self._reader)

    async def migrate(self) -> None:
        conn = self._writer
        conn.execute("CREATE TABLE IF NOT EXISTS parley_schema (version INTEGER NOT NULL)")
        # every migration not recorded yet, not only those above the highest:
        # branches may land migrations out of number order
        applied = {r[0] for r in conn.execute("SELECT version FROM parley_schema").fetchall()}
        for version, script in migrations(PK):
            if version in applied:
                continue
            conn.execute("BEGIN IMMEDIATE")
            try:
                # another process starting on the same file may have applied it
                done = "SELECT 1 FROM parley_schema WHERE version = ?"
                if conn.execute(done, (version,)).fetchone() is not None:
                    conn.execute("COMMIT")
                    continue
                for statement in statements(script):
                    conn.execute(statement)
                conn.execute("INSERT INTO parley_schema (version) VALUES (?)", (version,))
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        for connection in {self._writer, self._reader}:
            connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")

    async def close(self) -> None:
        if self._reader is not self._writer:
            self._reader.close()
        self._writer.close()
