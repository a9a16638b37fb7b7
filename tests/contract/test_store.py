"""The Store contract, run on every engine: one interface, the same answers.

Each test opens a fresh database of the engine, so they are independent of the
API suite and of each other.
"""

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from parley.events import Event, Origin, emit
from parley.store import Store, StoreUnavailable, UniqueViolation, open_store, repo, tables
from parley.store.sqlite import SqliteStore
from tests.conftest import BACKENDS, fresh_database

Body = Callable[[Store], Awaitable[Any]]


@pytest.fixture(
    params=[
        pytest.param(b, marks=[pytest.mark.postgres] if b == "postgres" else []) for b in BACKENDS
    ]
)
def with_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[Body], Any]]:
    with fresh_database(request.param, tmp_path) as url:

        def run(body: Body) -> Any:
            async def main() -> Any:
                store = await open_store(url)
                try:
                    return await body(store)
                finally:
                    await store.close()

            return asyncio.run(main())

        yield run


def _role(sid: str, service: str = "IS1", name: str = "r") -> dict[str, Any]:
    return {
        "sid": sid,
        "account_sid": "AC1",
        "service_sid": service,
        "friendly_name": name,
        "type": "channel",
        "permissions": "[]",
        "date_created": 1,
        "date_updated": None,
    }


def test_insert_get_update_delete(with_store: Callable[[Body], Any]) -> None:
    async def body(store: Store) -> None:
        async with store.write() as tx:
            await repo.insert(tx, "roles", _role("RL1"))
        async with store.read() as tx:
            row = await repo.get(tx, "roles", {"sid": "RL1"})
            assert row is not None and row["friendly_name"] == "r" and row["date_updated"] is None
        async with store.write() as tx:
            assert await repo.update(tx, "roles", {"sid": "RL1"}, {"friendly_name": "s"}) == 1
            assert await repo.update(tx, "roles", {"sid": "nope"}, {"friendly_name": "s"}) == 0
        async with store.read() as tx:
            row = await repo.get(tx, "roles", {"sid": "RL1"})
            assert row is not None and row["friendly_name"] == "s"
            assert await repo.count(tx, "roles", {"service_sid": "IS1"}) == 1
        async with store.write() as tx:
            assert await repo.delete(tx, "roles", {"sid": "RL1"}) == 1
        async with store.read() as tx:
            assert await repo.get(tx, "roles", {"sid": "RL1"}) is None

    with_store(body)


def test_failed_transaction_rolls_back_and_publishes_nothing(
    with_store: Callable[[Body], Any],
) -> None:
    published: list[Event] = []

    async def body(store: Store) -> None:
        async def on_commit(events: list[Event]) -> None:
            published.extend(events)

        store.on_commit = on_commit
        with pytest.raises(RuntimeError):
            async with store.write() as tx:
                await repo.insert(tx, "roles", _role("RL2"))
                await emit(tx, Origin(), "parley.test", _role("RL2"))
                raise RuntimeError("boom")
        async with store.read() as tx:
            assert await repo.get(tx, "roles", {"sid": "RL2"}) is None
            assert await repo.count(tx, "events", {"kind": "parley.test"}) == 0
        assert published == []
        async with store.write() as tx:
            await repo.insert(tx, "roles", _role("RL2"))
            event = await emit(tx, Origin("api", True), "parley.test", _role("RL2"))
        assert [e.seq for e in published] == [event.seq]
        async with store.read() as tx:
            stored = await repo.get(tx, "events", {"seq": event.seq})
            assert stored is not None
            again = Event.from_row(stored)
            assert again.payload["sid"] == "RL2" and again.webhooks is True

    with_store(body)


def test_unique_violation_is_one_exception(with_store: Callable[[Body], Any]) -> None:
    async def body(store: Store) -> None:
        async with store.write() as tx:
            await repo.insert(tx, "roles", _role("RL3"))
        with pytest.raises(UniqueViolation):
            async with store.write() as tx:
                await repo.insert(tx, "roles", _role("RL3"))

    with_store(body)


def test_held_inserts_are_written_once_and_roll_back(
    with_store: Callable[[Body], Any],
) -> None:
    """``insert_later``: a held row is there for the transaction's next read,
    goes with the next plain insert (PostgreSQL: one statement), is committed
    with the rest, and a conflict it meets fails the transaction as any
    insert's would, leaving nothing. (Rows sent in one statement take their
    ``seq`` in no set order: ``Tx.later`` is for rows nothing orders by it.)"""

    async def body(store: Store) -> None:
        async with store.write() as tx:
            await repo.insert_later(tx, "roles", _role("RLh1"))
            await repo.insert_later(tx, "roles", _role("RLh2", name="two"))
            assert await repo.count(tx, "roles", {"service_sid": "IS1"}) == 2  # read sees them
            await repo.insert_later(tx, "roles", _role("RLh3"))
            seq = await repo.insert(tx, "roles", _role("RLh4"), returning="seq")  # carries RLh3
            await repo.insert_later(tx, "roles", _role("RLh5"))  # sent before the commit
        async with store.read() as tx:
            rows = {r["sid"]: r for r in await repo.select(tx, "roles", {"service_sid": "IS1"})}
        assert sorted(rows) == ["RLh1", "RLh2", "RLh3", "RLh4", "RLh5"]
        assert rows["RLh4"]["seq"] == seq and rows["RLh2"]["friendly_name"] == "two"
        with pytest.raises(UniqueViolation):
            async with store.write() as tx:
                await repo.insert_later(tx, "roles", _role("RLh6"))
                await repo.insert_later(tx, "roles", _role("RLh1"))  # taken
                await repo.insert(tx, "roles", _role("RLh7"))
        with pytest.raises(UniqueViolation):
            async with store.write() as tx:
                await repo.insert_later(tx, "roles", _role("RLh8"))
                await repo.insert_later(tx, "roles", _role("RLh2"))  # taken, sent at commit
        async with store.read() as tx:
            assert await repo.count(tx, "roles", {"service_sid": "IS1"}) == 5

    with_store(body)


def test_keyset_pages_forward_and_back(with_store: Callable[[Body], Any]) -> None:
    async def body(store: Store) -> None:
        async with store.write() as tx:
            for i in range(7):
                await repo.insert(tx, "roles", _role(f"RL{i:02d}", name="abc"[i % 3]))
            await repo.insert(tx, "roles", _role("RLother", service="IS2"))
        where = {"service_sid": "IS1"}
        async with store.read() as tx:
            first = await repo.page(tx, "roles", where, limit=3)
            assert [r["sid"] for r in first] == ["RL00", "RL01", "RL02"]
            second = await repo.page(tx, "roles", where, after=first[-1]["seq"], limit=3)
            assert [r["sid"] for r in second] == ["RL03", "RL04", "RL05"]
            back = await repo.page(tx, "roles", where, before=second[0]["seq"], limit=2)
            assert [r["sid"] for r in back] == ["RL01", "RL02"]
            desc = await repo.page(tx, "roles", where, descending=True, limit=2)
            assert [r["sid"] for r in desc] == ["RL06", "RL05"]
            desc2 = await repo.page(
                tx, "roles", where, descending=True, after=desc[-1]["seq"], limit=2
            )
            assert [r["sid"] for r in desc2] == ["RL04", "RL03"]
            filtered = await repo.page(
                tx, "roles", where, any_of={"friendly_name": ["a", "c"]}, limit=10
            )
            assert [r["friendly_name"] for r in filtered] == ["a", "c", "a", "c", "a"]

    with_store(body)


def test_take_is_gap_free_under_concurrency(with_store: Callable[[Body], Any]) -> None:
    async def body(store: Store) -> list[int]:
        async with store.write() as tx:
            await tx.run(
                "INSERT INTO channels (sid, account_sid, service_sid, type, date_created) "
                "VALUES ('CH1', 'AC1', 'IS1', 'public', 1)"
            )

        async def writer() -> list[int]:
            got = []
            for _ in range(25):
                async with store.write() as tx:
                    got.append(
                        await repo.take(tx, "channels", {"sid": "CH1"}, "next_message_index")
                    )
            return got

        results = await asyncio.gather(*(writer() for _ in range(8)))
        return sorted(i for r in results for i in r)

    assert with_store(body) == list(range(200))


def test_take_bumps_and_sets_more_columns_in_the_same_statement(
    with_store: Callable[[Body], Any],
) -> None:
    async def body(store: Store) -> tuple[list[int], dict[str, Any]]:
        async with store.write() as tx:
            await tx.run(
                "INSERT INTO channels (sid, account_sid, service_sid, type, date_created) "
                "VALUES ('CH3', 'AC1', 'IS1', 'public', 1)"
            )
        taken = []
        for last in ("IM1", "IM2"):
            async with store.write() as tx:
                index = await repo.take(
                    tx,
                    "channels",
                    {"sid": "CH3"},
                    "next_message_index",
                    also_bump=("messages_count",),
                    changes={"last_message_sid": last},
                )
                taken.append(index)
        async with store.read() as tx:
            row = await repo.get(tx, "channels", {"sid": "CH3"})
            assert row is not None
        return taken, row

    taken, row = with_store(body)
    assert taken == [0, 1]
    assert (row["next_message_index"], row["messages_count"], row["last_message_sid"]) == (
        2,
        2,
        "IM2",
    )


def test_bump_counts_in_place(with_store: Callable[[Body], Any]) -> None:
    async def body(store: Store) -> int:
        async with store.write() as tx:
            await tx.run(
                "INSERT INTO channels (sid, account_sid, service_sid, type, date_created) "
                "VALUES ('CH2', 'AC1', 'IS1', 'public', 1)"
            )
            await repo.bump(tx, "channels", {"sid": "CH2"}, "members_count", 3)
            await repo.bump(tx, "channels", {"sid": "CH2"}, "members_count", -1)
        async with store.read() as tx:
            row = await repo.get(tx, "channels", {"sid": "CH2"})
            assert row is not None
            return int(row["members_count"])

    assert with_store(body) == 2


def test_migrations_are_idempotent(with_store: Callable[[Body], Any]) -> None:
    async def body(store: Store) -> None:
        await store.migrate()
        await store.migrate()
        async with store.read() as tx:
            rows = await tx.all("SELECT version FROM parley_schema ORDER BY version")
            assert [r["version"] for r in rows] == sorted({r["version"] for r in rows})

    with_store(body)


def test_the_migrated_schema_is_the_declared_one(with_store: Callable[[Body], Any]) -> None:
    """Every engine ends with the tables ``store/tables.py`` declares, no
    more: a table a migration drops (0031: ``consumers``) is gone from both."""

    async def body(store: Store) -> set[str]:
        if isinstance(store, SqliteStore):
            sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        else:
            sql = (
                "SELECT table_name AS name FROM information_schema.tables"
                " WHERE table_schema = current_schema()"
            )
        async with store.read() as tx:
            return {r["name"] for r in await tx.all(sql)}

    assert with_store(body) == {t.name for t in tables.ACCOUNT} | tables.GLOBAL


def test_a_migration_landed_out_of_order_is_applied(
    with_store: Callable[[Body], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database that recorded a later migration before an earlier one landed
    (branches merge in any order) still gets the earlier one."""
    from parley.store import migrate, postgres, sqlite

    real = migrate.migrations
    extra: list[tuple[int, str]] = [(9001, "CREATE TABLE later_one (x INTEGER)")]

    def patched(pk: str) -> list[tuple[int, str]]:
        return sorted(real(pk) + extra)

    monkeypatch.setattr(sqlite, "migrations", patched)
    monkeypatch.setattr(postgres, "migrations", patched)

    async def body(store: Store) -> list[int]:
        extra.append((9000, "CREATE TABLE earlier_one (x INTEGER)"))
        await store.migrate()
        async with store.write() as tx:
            await tx.run("INSERT INTO earlier_one (x) VALUES (1)")
            rows = await tx.all("SELECT version FROM parley_schema WHERE version >= 9000")
        return sorted(r["version"] for r in rows)

    # open_store migrates with 9001 only; the body then lands 9000
    assert with_store(body) == [9000, 9001]


@pytest.mark.postgres
def test_postgres_waits_for_a_connection_only_so_long(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a connection is free it is taken without a timer; when every one
    is out, a request waits at most ACQUIRE_TIMEOUT, then is 503 (nothing
    lent stays counted, so the next request takes a free one again)."""
    from parley.store import postgres

    monkeypatch.setattr(postgres, "ACQUIRE_TIMEOUT", 0.2)

    async def main(url: str) -> None:
        store = await postgres.PostgresStore.connect(url, min_size=1, max_size=2)
        await store.migrate()
        try:
            async with store.read() as one, store.write() as two:
                await repo.get(one, "roles", {"sid": "RL1"})
                await repo.get(two, "roles", {"sid": "RL1"})
                for waiting in (store.read(), store.write()):
                    with pytest.raises(StoreUnavailable):
                        async with waiting:
                            pass
            # a free connection is handed to a waiter as soon as it is back
            held = store.read()
            await held.__aenter__()
            second = store.read()
            third = store.read()
            await second.__aenter__()
            waiter = asyncio.ensure_future(third.__aenter__())
            await asyncio.sleep(0.05)
            assert not waiter.done()
            await held.__aexit__(None, None, None)
            assert isinstance(await waiter, postgres.PostgresTx)
            await second.__aexit__(None, None, None)
            await third.__aexit__(None, None, None)
            async with store.read() as tx, store.read() as again:
                assert await repo.get(tx, "roles", {"sid": "RL1"}) is None
                assert await repo.get(again, "roles", {"sid": "RL1"}) is None
        finally:
            await store.close()

    with fresh_database("postgres", tmp_path) as url:
        asyncio.run(main(url))


def test_a_chain_inserts_from_the_row_its_first_statement_changed(
    with_store: Callable[[Body], Any],
) -> None:
    """``Tx.chain``: inserts that read the first statement's row (``taken``),
    one statement on PostgreSQL; an event whose payload holds that row's values
    is spliced into valid JSON whatever else its payload holds; nothing is
    inserted when the first statement matches no row."""
    from parley.events import insert_from, new, recorded

    tricky = 'quote " back \\ brace } nul \x00 ünï "idx":1 \u2028'

    async def body(store: Store) -> tuple[Any, ...]:
        async with store.write() as tx:
            await repo.insert(tx, "roles", _role("RL1"))
        async with store.write() as tx:
            event = new(Origin(), "parley.test", {"account_sid": "", "note": tricky, "n": 0})
            then = [
                repo.insert_from(
                    "roles",
                    {k: v for k, v in _role("RL2").items() if k != "friendly_name"},
                    {"friendly_name": "taken.sid"},
                ),
                insert_from(
                    event,
                    {
                        "n": ("taken.date_created + 41", False),
                        "account_sid": ("taken.account_sid", True),
                    },
                ),
            ]
            sql = "UPDATE roles SET date_created = date_created + 1 WHERE sid = :s RETURNING *"
            taken = await tx.chain(sql, {"s": "RL1"}, then)
            assert taken is not None
            await recorded(tx, event, taken["q1_seq"])
            missed = await tx.chain(sql, {"s": "RL9"}, then[:1])
        async with store.read() as tx:
            made = await repo.get(tx, "roles", {"sid": "RL2"})
            stored = await repo.get(tx, "events", {"seq": taken["q1_seq"]})
        assert made is not None and stored is not None
        return taken["date_created"], made["friendly_name"], stored, missed

    date_created, friendly_name, stored, missed = with_store(body)
    assert date_created == 2 and friendly_name == "RL1" and missed is None
    assert stored["account_sid"] == "AC1"
    assert Event.from_row(stored).payload == {"account_sid": "AC1", "note": tricky, "n": 43}
