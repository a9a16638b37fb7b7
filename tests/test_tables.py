"""The declaration of account-scoped tables (parley/store/tables.py) covers the
whole schema, and reset removes every row it declares."""

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from parley.store import Tx, open_store, tables
from parley.testing import Credentials, ParleyServer


async def _schema() -> dict[str, set[str]]:
    store = await open_store("sqlite://")
    try:
        async with store.read() as tx:
            names = [
                r["name"]
                for r in await tx.all("SELECT name FROM sqlite_master WHERE type = 'table'")
                if not r["name"].startswith("sqlite_")
            ]
            return {
                name: {c["name"] for c in await tx.all(f"PRAGMA table_info({name})")}
                for name in names
            }
    finally:
        await store.close()


def test_every_table_is_declared_account_scoped_or_global() -> None:
    schema = asyncio.run(_schema())
    declared = {t.name for t in tables.ACCOUNT}
    assert not declared & tables.GLOBAL, "a table is either account-scoped or global"
    undeclared = set(schema) - declared - tables.GLOBAL
    assert not undeclared, (
        f"declare {sorted(undeclared)} in parley/store/tables.py: ACCOUNT (reset, export and"
        " import walk it) or GLOBAL"
    )
    assert not (declared | tables.GLOBAL) - set(schema), "declared tables exist"
    for table in tables.ACCOUNT:
        if table.parent is None:
            assert "account_sid" in schema[table.name], f"{table.name} names its account"
        else:
            column, parent = table.parent
            assert column in schema[table.name] and parent in declared


def test_a_dump_carries_resources_parents_first() -> None:
    order = [t.name for t in tables.ACCOUNT]
    assert order.index("services") < order.index("channels") < order.index("messages")
    assert tables.DUMPED[0] == "services"


@pytest.fixture
def node(database_url: str) -> Iterator[ParleyServer]:
    with ParleyServer(database_url) as server:
        yield server


def _http(server: ParleyServer, creds: Credentials) -> httpx.Client:
    return httpx.Client(base_url=server.url, auth=(creds.account_sid, creds.auth_token), timeout=30)


def _build(http: httpx.Client) -> None:
    sid = http.post("/v2/Services", data={"FriendlyName": "probe"}).json()["sid"]
    base = f"/v2/Services/{sid}"
    http.post(f"{base}/Users", data={"Identity": "alice"})
    http.post(f"{base}/Channels", data={"UniqueName": "room"})
    http.post(f"{base}/Channels/room/Members", data={"Identity": "alice"})
    http.post(f"{base}/Channels/room/Messages", data={"Body": "hi", "From": "alice"})
    http.post(f"{base}/Channels/room/Invites", data={"Identity": "bob"})


async def _counts(tx: Tx, account_sid: str) -> dict[str, int]:
    counts = {}
    for table in tables.ACCOUNT:
        if table.parent is None:
            sql = f"SELECT COUNT(*) AS n FROM {table.name} WHERE account_sid = :a"
        else:
            column, parent = table.parent
            sql = (
                f"SELECT COUNT(*) AS n FROM {table.name} WHERE {column} IN"
                f" (SELECT sid FROM {parent} WHERE account_sid = :a)"
            )
        row = await tx.one(sql, {"a": account_sid})
        assert row is not None
        counts[table.name] = int(row["n"])
    return counts


def test_reset_removes_every_account_row_and_only_that_account(node: ParleyServer) -> None:
    """The Sync view (sync_objects, sync_items, sync_events) went with the
    rest: a reset once left it behind, growing with every test."""
    one, two = node.create_credentials("one"), node.create_credentials("two")
    store = node.app.store
    assert store is not None

    def counts(creds: Credentials) -> dict[str, Any]:
        async def read() -> dict[str, int]:
            async with store.read() as tx:
                return await _counts(tx, creds.account_sid)

        return dict(node.run(read()))

    with _http(node, one) as a, _http(node, two) as b:
        _build(a)
        _build(b)
        before = counts(one)
        assert all(before[t] > 0 for t in ("sync_objects", "sync_items", "sync_events"))
        assert before["messages"] == 1 and before["events"] > 0
        other = counts(two)
        assert a.post("/parley/v1/reset").status_code == 200
    after = counts(one)
    kept = {t.name for t in tables.ACCOUNT if t.reset == "keep"}
    assert {t: n for t, n in after.items() if n and t not in kept} == {}
    assert after["api_keys"] == before["api_keys"]
    assert counts(two) == other
