"""What one created message costs the database: statements on SQLite, round
trips on PostgreSQL (counted on the wire by a proxy, tests/wire.py).

Counts, not timings (speed lives in bench/): every round trip to PostgreSQL is
a network wait the stack's ceiling does not pay. The issue's goal is at most 3
round trips per created message with the Sync view, webhooks and the outbox on
as deployed; it is what is pinned here, so a change that adds one fails.
Background work is kept out of the window: the webhook and push workers poll
once an hour (and a message that planned no push does not wake the push
worker), nothing is subscribed, and auth is warm.

Per created message on PostgreSQL: BEGIN; one statement (``Tx.chain``,
docs/decisions.md §46): the index take, which is also the channel's lookup
(``UPDATE channels … WHERE`` SID or unique name, service and account
``… RETURNING *``, with the service's new-message push settings as scalar
subqueries, which parley/push/plan.py reads from the event instead of a
statement of its own, and the Sync list's and document's event ids), the
message's insert and its outbox event's, both reading the updated row;
COMMIT. On SQLite the same three statements in order, between BEGIN and
COMMIT. The Sync view writes nothing: the messages list and the channel
document are derived from the rows (docs/decisions.md §45).
"""

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from parley import accounts
from parley.store.sqlite import SqliteStore
from parley.testing import ParleyServer
from tests.conftest import POSTGRES_URL, fresh_database
from tests.wire import CountingProxy

MESSAGES = 20  # created inside the counted window
PG_ROUND_TRIPS = 3  # per created message (15, then 6 before; the goal: 3)
SQLITE_STATEMENTS = 5  # per created message, BEGIN and COMMIT included (15, then 9 before)


class Poster:
    """A service and a channel, and a keep-alive HTTP client that posts to it."""

    def __init__(self, server: ParleyServer) -> None:
        assert server.app.store is not None
        account = server.run(accounts.create_account(server.app.store, "trips"))
        self.http = httpx.Client(
            base_url=server.url, auth=(account["sid"], account["auth_token"]), timeout=30
        )
        service = self._post("/v2/Services", FriendlyName="trips")
        channel = self._post(f"/v2/Services/{service['sid']}/Channels", UniqueName="general")
        self.messages = f"/v2/Services/{service['sid']}/Channels/{channel['sid']}/Messages"
        # a member, so the author resolves to a memberSid in the Sync item
        self._post(
            f"/v2/Services/{service['sid']}/Channels/{channel['sid']}/Members", Identity="al"
        )

    def close(self) -> None:
        self.http.close()

    def _post(self, path: str, **form: str) -> Any:
        response = self.http.post(path, data=form)
        assert response.status_code == 201, response.text
        return response.json()

    def create(self, n: int) -> list[int]:
        return [self._post(self.messages, Body=f"hello {i}", From="al")["index"] for i in range(n)]


def _server(url: str) -> ParleyServer:
    # nothing polls the database during the counted window
    return ParleyServer(url, webhook_poll=3600.0, push_poll=3600.0).start()


@pytest.fixture
def sqlite_server(tmp_path: Path) -> Iterator[ParleyServer]:
    with fresh_database("sqlite", tmp_path) as url:
        server = _server(url)
        yield server
        server.stop()


@pytest.fixture
def postgres_server(tmp_path: Path) -> Iterator[tuple[ParleyServer, CountingProxy]]:
    with fresh_database("postgres", tmp_path) as url:
        parts = urlsplit(POSTGRES_URL)
        proxy = CountingProxy(parts.hostname or "127.0.0.1", parts.port or 5432).start()
        proxied = url.replace(parts.netloc, f"{parts.username}@127.0.0.1:{proxy.port}", 1)
        server = _server(proxied)
        yield server, proxy
        server.stop()
        proxy.stop()


def test_sqlite_statements_per_created_message(sqlite_server: ParleyServer) -> None:
    poster = Poster(sqlite_server)
    poster.create(3)  # warm: caches, lazily made Sync objects
    store = sqlite_server.app.store
    assert isinstance(store, SqliteStore)
    seen: list[str] = []
    conns: list[sqlite3.Connection] = [store._writer, store._reader]
    for conn in conns:
        conn.set_trace_callback(seen.append)
    try:
        indexes = poster.create(MESSAGES)
    finally:
        for conn in conns:
            conn.set_trace_callback(None)
        poster.close()
    assert indexes == list(range(3, 3 + MESSAGES))
    assert len(seen) == SQLITE_STATEMENTS * MESSAGES, (len(seen), seen[-15:])


@pytest.mark.postgres
def test_postgres_round_trips_per_created_message(
    postgres_server: tuple[ParleyServer, CountingProxy],
) -> None:
    server, proxy = postgres_server
    poster = Poster(server)
    poster.create(3)
    proxy.reset()
    indexes = poster.create(MESSAGES)
    counts = proxy.reset()
    poster.close()
    assert indexes == list(range(3, 3 + MESSAGES))
    # one statement per round trip: nothing pipelined, nothing sent twice
    assert counts.round_trips == PG_ROUND_TRIPS * MESSAGES, counts
    assert counts.statements == counts.round_trips, counts


# ----------------------------------------------------------------- the read path

READS = 20  # of each kind, inside the counted window
READ_STATEMENTS = {"fetch channel": 1, "list messages": 1}  # per request, either engine


def _reads(poster: Poster) -> dict[str, str]:
    """The benchmarked reads (bench/run.py): the channel, and a page of its messages."""
    channel = poster.messages.removesuffix("/Messages")
    return {"fetch channel": channel, "list messages": poster.messages + "?PageSize=2"}


def _get(poster: Poster, path: str) -> None:
    response = poster.http.get(path)
    assert response.status_code == 200, response.text
    assert "messages" not in path or len(response.json()["messages"]) == 2


def test_sqlite_statements_per_read(sqlite_server: ParleyServer) -> None:
    """A fetched channel is one statement (its lookup, scoped to the account);
    a page of messages is one (the page, finding its channel by a subquery)."""
    poster = Poster(sqlite_server)
    poster.create(3)
    store = sqlite_server.app.store
    assert isinstance(store, SqliteStore)
    conns: list[sqlite3.Connection] = [store._writer, store._reader]
    for name, path in _reads(poster).items():
        _get(poster, path)  # warm
        seen: list[str] = []
        for conn in conns:
            conn.set_trace_callback(seen.append)
        try:
            for _ in range(READS):
                _get(poster, path)
        finally:
            for conn in conns:
                conn.set_trace_callback(None)
        assert len(seen) == READ_STATEMENTS[name] * READS, (name, len(seen), seen[-4:])
    poster.close()


@pytest.mark.postgres
def test_postgres_round_trips_per_read(
    postgres_server: tuple[ParleyServer, CountingProxy],
) -> None:
    """The same reads on PostgreSQL: one round trip each (no BEGIN or COMMIT
    around a read, statements prepared once per connection)."""
    server, proxy = postgres_server
    poster = Poster(server)
    poster.create(3)
    for name, path in _reads(poster).items():
        for _ in range(10):  # warm: every pooled connection has prepared it
            _get(poster, path)
        proxy.reset()
        for _ in range(READS):
            _get(poster, path)
        counts = proxy.reset()
        assert counts.round_trips == READ_STATEMENTS[name] * READS, (name, counts)
        assert counts.statements == counts.round_trips, (name, counts)
    poster.close()
