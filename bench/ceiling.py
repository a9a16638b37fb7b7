"""The ceiling: the least an ASGI app must do to answer Parley's benchmarked requests.

It runs on the same server (uvicorn, same flags, same database file or schema, same
tables) as Parley, so ``Parley / ceiling`` is the share of the stack's own speed
that Parley keeps. Per request it does only:

- ``POST .../Channels/{CH}/Messages``: Basic-auth parse and compare, form parse,
  one transaction with a counter bump (``channels.next_message_index``,
  ``messages_count``) and one ``messages`` insert, JSON out.
- ``GET .../Channels/{CH}``: auth, one ``SELECT`` by SID, JSON out.
- ``GET .../Channels/{CH}/Messages``: auth, one keyset ``SELECT`` (``PageToken``
  spelled as Parley spells it), JSON out with ``meta``.

No validation, no roles, no events, no outbox: that is what Parley adds. Started
by ``uvicorn --factory bench.ceiling:build`` with ``BENCH_DATABASE_URL``,
``BENCH_ACCOUNT_SID`` and ``BENCH_AUTH_TOKEN`` in the environment.
"""

import asyncio
import base64
import os
import secrets
import sqlite3
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

import orjson

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Row = dict[str, Any]

_JSON = [(b"content-type", b"application/json; charset=utf-8")]
_BUMP = (
    "UPDATE channels SET next_message_index = next_message_index + 1,"
    " messages_count = messages_count + 1 WHERE sid = {p1} RETURNING next_message_index"
)
_INSERT = (
    "INSERT INTO messages (sid, account_sid, service_sid, channel_sid, idx, author, body,"
    " attributes, type, was_edited, date_created, date_updated)"
    " VALUES ({p1}, {p2}, {p3}, {p4}, {p5}, {p6}, {p7}, {p8}, 'text', 0, {p9}, {p10})"
)
_CHANNEL = "SELECT * FROM channels WHERE sid = {p1}"
_PAGE = "SELECT * FROM messages WHERE channel_sid = {p1} AND idx > {p2} ORDER BY idx LIMIT {p3}"


def _sql(template: str, engine: str) -> str:
    marks = {f"p{i}": ("?" if engine == "sqlite" else f"${i}") for i in range(1, 11)}
    return template.format(**marks)


class SqliteDb:
    """One connection, writes serialised by a lock and ``BEGIN IMMEDIATE``."""

    engine = "sqlite"

    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.row_factory = sqlite3.Row
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=10000"):
            self.conn.execute(f"PRAGMA {pragma}")
        self.lock = asyncio.Lock()
        self.bump, self.insert = _sql(_BUMP, "sqlite"), _sql(_INSERT, "sqlite")
        self.channel, self.page = _sql(_CHANNEL, "sqlite"), _sql(_PAGE, "sqlite")

    async def add(self, channel: str, values: tuple[Any, ...]) -> int:
        async with self.lock:
            conn = self.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute(self.bump, (channel,)).fetchone()
                index = int(row[0]) - 1
                conn.execute(self.insert, (*values[:4], index, *values[4:]))
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        return index

    async def one(self, channel: str) -> Row | None:
        row = self.conn.execute(self.channel, (channel,)).fetchone()
        return None if row is None else dict(row)

    async def rows(self, channel: str, after: int, limit: int) -> list[Row]:
        return [dict(r) for r in self.conn.execute(self.page, (channel, after, limit))]


async def _keep_session(conn: Any) -> None:
    return None


class PostgresDb:
    engine = "postgres"

    def __init__(self, url: str) -> None:
        self.url = url
        self.pool: Any = None
        self.bump, self.insert = _sql(_BUMP, "pg"), _sql(_INSERT, "pg")
        self.channel, self.page = _sql(_CHANNEL, "pg"), _sql(_PAGE, "pg")

    async def open(self) -> None:
        import asyncpg

        # like Parley's pool: no reset query on release (asyncpg still rolls back)
        self.pool = await asyncpg.create_pool(
            self.url, min_size=2, max_size=10, reset=_keep_session
        )

    async def add(self, channel: str, values: tuple[Any, ...]) -> int:
        async with self.pool.acquire() as conn, conn.transaction():
            index = int(await conn.fetchval(self.bump, channel)) - 1
            await conn.execute(self.insert, *values[:4], index, *values[4:])
        return index

    async def one(self, channel: str) -> Row | None:
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(self.channel, channel)
        return None if row is None else dict(row)

    async def rows(self, channel: str, after: int, limit: int) -> list[Row]:
        async with self.pool.acquire() as conn:
            return [dict(r) for r in await conn.fetch(self.page, channel, after, limit)]


def _iso(micros: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(micros // 1_000_000))


def _message(row: Row, base: str) -> Row:
    url = f"{base}/v2/Services/{row['service_sid']}/Channels/{row['channel_sid']}"
    return {
        "sid": row["sid"],
        "account_sid": row["account_sid"],
        "service_sid": row["service_sid"],
        "channel_sid": row["channel_sid"],
        "to": row["channel_sid"],
        "from": row["author"],
        "body": row["body"],
        "attributes": row["attributes"] or "{}",
        "index": row["idx"],
        "type": "text",
        "media": None,
        "was_edited": False,
        "last_updated_by": None,
        "date_created": _iso(row["date_created"]),
        "date_updated": _iso(row["date_updated"] or row["date_created"]),
        "url": f"{url}/Messages/{row['sid']}",
    }


class Ceiling:
    def __init__(self) -> None:
        url = os.environ["BENCH_DATABASE_URL"]
        self.account = os.environ["BENCH_ACCOUNT_SID"]
        self.token = os.environ["BENCH_AUTH_TOKEN"]
        self.base = os.environ.get("BENCH_BASE_URL", "http://127.0.0.1")
        if url.startswith("sqlite:"):
            self.db: SqliteDb | PostgresDb = SqliteDb(url.removeprefix("sqlite:///"))
        else:
            self.db = PostgresDb(url)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                event = (await receive())["type"]
                if event == "lifespan.startup":
                    if isinstance(self.db, PostgresDb):
                        await self.db.open()
                    await send({"type": "lifespan.startup.complete"})
                elif event == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        status, body = await self.handle(scope, receive)
        headers = [*_JSON, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def handle(self, scope: Scope, receive: Receive) -> tuple[int, bytes]:
        if not self.authorised(dict(scope["headers"]).get(b"authorization", b"")):
            return 401, b'{"code":20003,"status":401}'
        # /v2/Services/{IS}/Channels/{CH}[/Messages]
        parts = scope["path"].split("/")
        if len(parts) < 6:
            return 404, b'{"code":20404,"status":404}'
        service, channel = parts[3], parts[5]
        if scope["method"] == "POST":
            body = b""
            more = True
            while more:
                message = await receive()
                body += message.get("body", b"")
                more = message.get("more_body", False)
            form = dict(parse_qsl(body.decode()))
            now = time.time_ns() // 1000
            author = form.get("From", "system")
            sid = "IM" + secrets.token_hex(16)
            body_text, attributes = form.get("Body"), form.get("Attributes")
            values = (sid, self.account, service, channel, author, body_text, attributes, now, now)
            index = await self.db.add(channel, values)
            row: Row = {"sid": sid, "account_sid": self.account, "service_sid": service}
            row.update(channel_sid=channel, idx=index, author=author, body=body_text)
            row.update(attributes=attributes, date_created=now, date_updated=now)
            return 201, orjson.dumps(_message(row, self.base))
        if len(parts) == 6:
            found = await self.db.one(channel)
            if found is None:
                return 404, b'{"code":20404,"status":404}'
            found["date_created"] = _iso(found["date_created"])
            found["date_updated"] = _iso(found["date_updated"] or 0)
            return 200, orjson.dumps(found)
        query = dict(parse_qsl(scope["query_string"].decode()))
        size = min(int(query.get("PageSize", 50)), 100)
        after = -1
        if token := query.get("PageToken"):
            raw = token[2:]
            after = int(orjson.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))))
        rows = await self.db.rows(channel, after, size + 1)
        items = [_message(r, self.base) for r in rows[:size]]
        meta = {"page_size": size, "next_page_url": None, "key": "messages"}
        if len(rows) > size:
            meta["next_page_url"] = f"{self.base}{scope['path']}?PageSize={size}"
        return 200, orjson.dumps({"messages": items, "meta": meta})

    def authorised(self, header: bytes) -> bool:
        if header[:6].lower() != b"basic ":
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return secrets.compare_digest(user, self.account) and secrets.compare_digest(
            password, self.token
        )


def build() -> Ceiling:
    return Ceiling()
