"""Nothing committed is lost: restarts, SIGKILL, receiver outages, expired leases,
several processes on one outbox."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from parley import accounts, timefmt
from parley.app import PROJECTORS
from parley.domain import services
from parley.domain.catalogue import POST_EVENTS
from parley.store import Store, open_store, repo
from parley.webhooks import outbox
from tests.conftest import Account, Server, free_port, start_server
from tests.webhooks.conftest import FAST, Events
from tests.webhooks.receiver import Receiver


async def _setup(store: Store, url: str, retries: int = 3) -> tuple[Account, str]:
    account = await accounts.create_account(store, "durability")
    async with store.write() as tx:
        service = await services.create(tx, account["sid"], "durable")
        await services.update(
            tx,
            service,
            {
                "post_webhook_url": url,
                "webhook_filters": list(POST_EVENTS),
                "post_webhook_retry_count": retries,
            },
        )
    return Account(account["sid"], account["auth_token"]), str(service["sid"])


class FileEvents(Events):
    """Events written by this test process straight into a database file, as
    another Parley process would (the servers under test must find them)."""

    def __init__(self, store: Store, account: Account, service_sid: str) -> None:
        self.store = store
        self.account = account
        self.service_sid = service_sid

    def emit(self, kind: str, row: dict[str, Any], origin: Any = None, **extra: Any) -> None:
        from parley.events import Origin, emit

        async def go() -> None:
            async with self.store.write() as tx:
                await emit(tx, origin or Origin("api", True), kind, row, **extra)

        asyncio.run(go())


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'durable.db'}"


@pytest.fixture
def receiver_slow() -> Iterator[Receiver]:
    running = Receiver().start()
    yield running
    running.stop()


def _open(url: str) -> Store:
    """The store as a server opens it: its writes plan webhook deliveries."""
    return asyncio.run(open_store(url, PROJECTORS))


def _first_seen(got: list[Any]) -> dict[str, list[str]]:
    """Per channel, message SIDs in the order they first arrived."""
    seen: dict[str, list[str]] = {}
    for r in got:
        lane = seen.setdefault(r.params["ChannelSid"], [])
        if r.params["MessageSid"] not in lane:
            lane.append(r.params["MessageSid"])
    return seen


def test_pending_deliveries_are_sent_after_a_restart(db: str, receiver: Receiver) -> None:
    # an API-only process commits events and stops before any delivery
    first = start_server(db, webhook_worker=False)
    assert first.app.store is not None
    account, service_sid = first.run(_setup(first.app.store, receiver.url()))
    events = Events(first, account, service_sid)
    channels = [events.channel() for _ in range(2)]
    sent: dict[str, list[str]] = {ch["sid"]: [] for ch in channels}
    for i in range(10):
        for ch in channels:
            msg = events.message(ch["sid"], i)
            events.emit("onMessageSent", msg)
            sent[ch["sid"]].append(msg["sid"])
    first.stop()
    assert receiver.quiet(0.2) == []

    second = start_server(db, **FAST)
    try:
        got = receiver.wait_for(20)
        assert len(receiver.quiet(0.3)) == 20  # each exactly once
        assert _first_seen(got) == sent
        assert all(r.valid_for(account.auth_token, receiver.url()) for r in got)
    finally:
        second.stop()


def _serve(db: str, port: int, account: Account) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PARLEY_ACCOUNT_SID": account.sid,
        "PARLEY_AUTH_TOKEN": account.auth_token,
        "PARLEY_WEBHOOK_POLL": "0.05",
        "PARLEY_WEBHOOK_BACKOFF": "0.05",
        "PARLEY_WEBHOOK_LEASE": "1",
        "PARLEY_WEBHOOK_TIMEOUT": "1",
        "PARLEY_ALLOW_PRIVATE_WEBHOOKS": "1",  # the receiver is on 127.0.0.1
    }
    return subprocess.Popen(
        [sys.executable, "-m", "parley", "serve", "--port", str(port), "--database-url", db],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_sigkill_mid_delivery_loses_nothing(db: str, receiver: Receiver) -> None:
    store = _open(db)
    account, service_sid = asyncio.run(_setup(store, receiver.url(), retries=0))
    events = FileEvents(store, account, service_sid)
    receiver.reply = lambda r: ("sleep", 0.3)  # slow receiver: deliveries are in flight
    ch = events.channel()
    sent = []
    for i in range(8):
        msg = events.message(ch["sid"], i)
        events.emit("onMessageSent", msg, channel_sid=ch["sid"])
        sent.append(msg["sid"])
    proc = _serve(db, free_port(), account)
    try:
        receiver.wait_for(3, timeout=30)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        receiver.reply = None
        proc = _serve(db, free_port(), account)
        got = receiver.wait_for(len(sent), timeout=30, where=lambda r: True)
        deadline = time.monotonic() + 30
        while set(_first_seen(got).get(ch["sid"], [])) != set(sent):
            assert time.monotonic() < deadline, "events lost after SIGKILL"
            got = receiver.quiet(0.1)
        got = receiver.quiet(0.5)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        asyncio.run(store.close())
    assert _first_seen(got) == {ch["sid"]: sent}
    sids = [r.params["MessageSid"] for r in got]
    repeated = {sid for sid in sids if sids.count(sid) > 1}
    # at-least-once: only the request in flight at the kill may come again, as a retry
    assert len(repeated) <= 1 and len(got) <= len(sent) + 1
    for sid in repeated:
        assert [r.params["RetryCount"] for r in got if r.params["MessageSid"] == sid] == ["0", "1"]


def test_a_receiver_down_for_a_while_gets_every_event(
    fast: Server, client: Any, service: Any, account: Account
) -> None:
    # The real policy (3 retries after 2 s, 8 s, 32 s) outlasts a 30 s outage; this
    # test scales the schedule and the outage by 1/10 (PARLEY_WEBHOOK_BACKOFF).
    fast.app.settings.webhook_backoff = 0.2
    port = free_port()
    down = Receiver()
    url = f"http://127.0.0.1:{port}/hook"
    client.chat.v2.services(service.sid).update(
        post_webhook_url=url, webhook_filters=["onMessageSent"], post_webhook_retry_count=3
    )
    events = Events(fast, account, service.sid)
    channels = [events.channel() for _ in range(3)]
    sent: dict[str, list[str]] = {ch["sid"]: [] for ch in channels}
    started = time.monotonic()
    for i in range(5):
        for ch in channels:
            msg = events.message(ch["sid"], i)
            events.emit("onMessageSent", msg)
            sent[ch["sid"]].append(msg["sid"])
    time.sleep(max(0.0, 3.0 - (time.monotonic() - started)))
    up = down.start(port)
    try:
        got = up.wait_for(15, timeout=20)
        assert _first_seen(got) == sent
        assert {r.params["RetryCount"] for r in got} <= {"0", "1", "2", "3"}
        assert any(r.params["RetryCount"] != "0" for r in got)
    finally:
        up.stop()


def test_an_expired_lease_is_taken_over(
    fast: Server, hooked: Any, events: Events, receiver: Receiver
) -> None:
    """A lane claimed by a process that died is delivered by another after its lease."""
    from parley.events import Origin, emit

    ch = events.channel()
    msg = events.message(ch["sid"], 0)

    async def emit_as_dead_process() -> None:
        assert fast.app.store is not None
        async with fast.app.store.write() as tx:
            await emit(tx, Origin("api", True), "onMessageSent", msg)
            until = timefmt.now() + 300_000
            await tx.run(
                "UPDATE webhook_lanes SET claimed_by = 'dead', lease_until = :until"
                " WHERE lane = :lane",
                {"until": until, "lane": f"{hooked.sid}/{ch['sid']}"},
            )

    fast.run(emit_as_dead_process())
    (got,) = receiver.wait_for(1)
    assert got.params["MessageSid"] == msg["sid"]

    async def attempt_workers() -> list[str]:
        assert fast.app.store is not None
        async with fast.app.store.read() as tx:
            rows = await repo.select(tx, "webhook_deliveries", {"channel_sid": ch["sid"]})
            return [a["worker"] for a in await outbox.attempts(tx, rows[0]["seq"])]

    assert fast.app.webhooks is not None
    assert fast.run(attempt_workers()) == [fast.app.webhooks.worker_id]


def test_two_processes_share_one_outbox_each_delivery_once(
    database_url: str, server: Server, receiver: Receiver
) -> None:
    # two more Parleys on the session database (each engine): with the session
    # server, three workers compete for the same lanes
    db = database_url
    a = start_server(db, **FAST)
    b = start_server(db, **FAST)
    try:
        assert a.app.store is not None
        account, service_sid = a.run(_setup(a.app.store, receiver.url()))
        makers = [Events(a, account, service_sid), Events(b, account, service_sid)]
        channels = [makers[0].channel() for _ in range(4)]
        sent: dict[str, list[str]] = {ch["sid"]: [] for ch in channels}
        for i in range(15):
            for n, ch in enumerate(channels):
                events = makers[(i + n) % 2]  # both processes write
                msg = events.message(ch["sid"], i)
                events.emit("onMessageSent", msg)
                sent[ch["sid"]].append(msg["sid"])
        got = receiver.wait_for(60, timeout=30)
        assert len(receiver.quiet(0.5)) == 60
        assert _first_seen(got) == sent
    finally:
        a.stop()
        b.stop()


def test_a_state_reset_drops_unsent_deliveries_and_the_lane_goes_on(
    db: str, receiver: Receiver
) -> None:
    from parley.control import state

    server = start_server(db, **{**FAST, "webhook_backoff": 30.0})
    try:
        assert server.app.store is not None
        down = f"http://127.0.0.1:{free_port()}/down"
        account, service_sid = server.run(_setup(server.app.store, down, retries=3))
        events = Events(server, account, service_sid)
        ch = events.channel()
        events.emit("onMessageSent", events.message(ch["sid"], 0))

        async def pending() -> list[Any]:
            assert server.app.store is not None
            async with server.app.store.read() as tx:
                return await tx.all(
                    "SELECT attempts FROM webhook_deliveries WHERE account_sid = :a"
                    " AND state = 'pending'",
                    {"a": account.sid},
                )

        deadline = time.monotonic() + 10
        while [r["attempts"] for r in server.run(pending())] != [1]:
            assert time.monotonic() < deadline, "first attempt not made"
            time.sleep(0.05)  # waiting 30 s for its retry now

        async def reset() -> None:
            assert server.app.store is not None
            async with server.app.store.write() as tx:
                await state.reset(tx, account.sid)

        server.run(reset())
        assert server.run(pending()) == []

        async def lane() -> Any:
            assert server.app.store is not None
            async with server.app.store.read() as tx:
                return await repo.get(tx, "webhook_lanes", {"lane": f"{service_sid}/{ch['sid']}"})

        assert server.run(lane())["pending"] == 0  # not claimed again for nothing
        account2, service2 = server.run(_setup(server.app.store, receiver.url()))
        # the worker goes on with other work
        events2 = Events(server, account2, service2)
        msg = events2.message(ch["sid"], 0)
        events2.emit("onMessageSent", msg)
        (got,) = receiver.wait_for(1)
        assert got.params["MessageSid"] == msg["sid"]
    finally:
        server.stop()
