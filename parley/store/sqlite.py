"""SQLite engine: WAL, one writer, readers on their own connection.

Statements run synchronously on the event loop: a SQLite statement on a warm
page cache costs microseconds, less than a thread hop (measured in bench/).
Write transactions are serialised by an asyncio lock plus ``BEGIN IMMEDIATE``
(other processes on the same file wait on ``busy_timeout``); see synapse#8105
for why a single writer is the right shape for SQLite.
"""

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from parley.store.base import OnCommit, Params, Row, UniqueViolation
from parley.store.migrate import migrations, statements

PK = "INTEGER PRIMARY KEY AUTOINCREMENT"


def _dict_row(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> Row:
    return {d[0]: v for d, v in zip(cursor.description, row, strict=True)}


class SqliteTx:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self.events: list[Any] = []

    def _exec(self, sql: str, params: Params | None) -> sqlite3.Cursor:
        try:
            return self._conn.execute(sql, params or {})
        except sqlite3.IntegrityError as exc:
            if "UNIQUE" in str(exc):
                raise UniqueViolation(str(exc)) from exc
            raise

    async def one(self, sql: str, params: Params | None = None) -> Row | None:
        row: Row | None = self._exec(sql, params).fetchone()
        return row

    async def all(self, sql: str, params: Params | None = None) -> list[Row]:
        return self._exec(sql, params).fetchall()

    async def run(self, sql: str, params: Params | None = None) -> int:
        return self._exec(sql, params).rowcount

    async def sync_sequence(self, table: str) -> None:
        return None  # AUTOINCREMENT already continues past explicit values

    async def many(self, sql: str, rows: Sequence[Params]) -> None:
        try:
            self._conn.executemany(sql, rows)
        except sqlite3.IntegrityError as exc:
            if "UNIQUE" in str(exc):
                raise UniqueViolation(str(exc)) from exc
            raise


class SqliteStore:
    engine = "sqlite"

    def __init__(self, path: str) -> None:
        self.path = path
        self.on_commit: OnCommit | None = None
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
        conn.row_factory = _dict_row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=10000")
        conn.execute("PRAGMA foreign_keys=OFF")
        return conn

    @asynccontextmanager
    async def write(self) -> AsyncIterator[SqliteTx]:
        async with self._lock:
            conn = self._writer
            conn.execute("BEGIN IMMEDIATE")
            tx = SqliteTx(conn)
            try:
                yield tx
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        if tx.events and self.on_commit is not None:
            await self.on_commit(tx.events)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[SqliteTx]:
        # autocommit reads: each statement sees the latest committed state, and
        # concurrent readers on the shared connection never nest a BEGIN
        yield SqliteTx(self._reader)

    async def migrate(self) -> None:
        conn = self._writer
        conn.execute("CREATE TABLE IF NOT EXISTS parley_schema (version INTEGER NOT NULL)")
        current = conn.execute("SELECT MAX(version) AS v FROM parley_schema").fetchone()["v"] or 0
        for version, script in migrations(PK):
            if version <= current:
                continue
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in statements(script):
                    conn.execute(statement)
                conn.execute("INSERT INTO parley_schema (version) VALUES (?)", (version,))
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    async def close(self) -> None:
        if self._reader is not self._writer:
            self._reader.close()
        self._writer.close()
