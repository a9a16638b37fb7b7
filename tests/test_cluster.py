"""Several Parley processes on one PostgreSQL and one Redis behave as one
(issue: "PostgreSQL and Redis: Parley beyond one machine").

Real ``parley serve`` subprocesses, writers spread across them.
"""

import asyncio
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from parley import accounts, sids
from parley.store import open_store
from tests.conftest import REDIS_URL, free_port, fresh_database, make_client, unavailable
from tests.realtime.helpers import Twilsock, token

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@dataclass
class Node:
    url: str
    process: subprocess.Popen[bytes]


@dataclass
class Cluster:
    nodes: list[Node]
    account_sid: str
    auth_token: str
    database_url: str

    def client(self, i: int) -> Client:
        node = self.nodes[i % len(self.nodes)]

        class _At:  # make_client only needs .url
            url = node.url

        return make_client(_At(), self.account_sid, self.auth_token)  # type: ignore[arg-type]


def _redis_or_skip() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        unavailable(f"Redis at {REDIS_URL}", repr(exc))


def start_node(database_url: str, account_sid: str, token: str, workers: int = 1) -> Node:
    port = free_port()
    env = {
        **os.environ,
        "PARLEY_DATABASE_URL": database_url,
        "PARLEY_REDIS_URL": REDIS_URL,
        "PARLEY_ACCOUNT_SID": account_sid,
        "PARLEY_AUTH_TOKEN": token,
        "PARLEY_WEBHOOK_POLL": "0.2",
        "PARLEY_WEBHOOK_BACKOFF": "0.2",
        "PARLEY_ALLOW_PRIVATE_WEBHOOKS": "1",  # the receiver is on 127.0.0.1
        # presence rows of a killed node expire after three missed heartbeats
        "PARLEY_PRESENCE_HEARTBEAT": "0.3",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "parley",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ],
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if (
                httpx.get(url + "/v2/Services", auth=(account_sid, token), timeout=1).status_code
                == 200
            ):
                return Node(url, process)
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            raise RuntimeError(f"parley serve exited with {process.returncode}")
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("parley serve did not come up")


def stop_node(node: Node) -> None:
    node.process.send_signal(signal.SIGINT)
    try:
        node.process.wait(10)
    except subprocess.TimeoutExpired:
        node.process.kill()
        node.process.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Three processes (one node of one, one of two workers), shared by the
    module's tests: each test works in a service of its own."""
    tmp_path = tmp_path_factory.mktemp("cluster")
    _redis_or_skip()
    account_sid = sids.new_sid(sids.ACCOUNT)
    token = secrets.token_hex(16)
    with fresh_database("postgres", tmp_path) as url:
        # the first node migrates alone; the others start against a ready schema
        nodes = [start_node(url, account_sid, token)]
        nodes.append(start_node(url, account_sid, token, workers=2))
        try:
            yield Cluster(nodes, account_sid, token, url)
        finally:
            for node in nodes:
                stop_node(node)


def test_nodes_share_one_state(cluster: Cluster) -> None:
    a, b = cluster.client(0), cluster.client(1)
    created = a.chat.v2.services.create(friendly_name="shared")
    assert b.chat.v2.services(created.sid).fetch().friendly_name == "shared"
    b.chat.v2.services(created.sid).update(friendly_name="changed on b")
    assert a.chat.v2.services(created.sid).fetch().friendly_name == "changed on b"


def test_concurrent_writes_across_nodes(cluster: Cluster) -> None:
    def create(i: int) -> str:
        return cluster.client(i).chat.v2.services.create(friendly_name=f"n{i}").sid

    with ThreadPoolExecutor(8) as pool:
        made = set(pool.map(create, range(40)))
    assert len(made) == 40
    listed = {s.sid for s in cluster.client(0).chat.v2.services.stream(page_size=7)}
    assert made <= listed


def test_message_indexes_stay_gap_free_across_processes(cluster: Cluster) -> None:
    """Writers spread over three processes (one node runs two workers) post to
    one channel at once: indexes are exactly 0..N-1."""
    admin = cluster.client(0)
    service = admin.chat.v2.services.create(friendly_name="busy")
    room = admin.chat.v2.services(service.sid).channels.create(unique_name="room")
    writers, each = 12, 25

    def post(i: int) -> list[int]:
        channel = cluster.client(i).chat.v2.services(service.sid).channels("room")
        return [channel.messages.create(body=f"{i}-{n}", from_=f"w{i}").index for n in range(each)]

    with ThreadPoolExecutor(writers) as pool:
        indexes = sorted(i for got in pool.map(post, range(writers)) for i in got)
    total = writers * each
    assert indexes == list(range(total))
    listed = [
        m.index for m in admin.chat.v2.services(service.sid).channels(room.sid).messages.stream()
    ]
    assert listed == list(range(total))
    assert admin.chat.v2.services(service.sid).channels(room.sid).fetch().messages_count == total


def test_unique_keys_hold_under_concurrent_creates(cluster: Cluster) -> None:
    """Unique names and identities are constraints, not read-then-write."""
    service = cluster.client(0).chat.v2.services.create(friendly_name="race")

    def create_channel(i: int) -> int:
        try:
            cluster.client(i).chat.v2.services(service.sid).channels.create(unique_name="only-one")
            return 201
        except TwilioRestException as exc:
            return int(exc.code)

    def create_user(i: int) -> int:
        try:
            cluster.client(i).chat.v2.services(service.sid).users.create(identity="alice")
            return 201
        except TwilioRestException as exc:
            return int(exc.code)

    with ThreadPoolExecutor(10) as pool:
        channels = list(pool.map(create_channel, range(10)))
        users = list(pool.map(create_user, range(10)))
    assert sorted(channels) == [201] + [50307] * 9
    assert sorted(users) == [201] + [50201] * 9


def test_every_webhook_delivered_once_across_processes(cluster: Cluster) -> None:
    """Events committed on any process are delivered exactly once, in index
    order per channel, whichever process's worker claims them."""
    from tests.webhooks.receiver import Receiver

    receiver = Receiver().start()
    try:
        admin = cluster.client(0)
        service = admin.chat.v2.services.create(friendly_name="hooked")
        admin.chat.v2.services(service.sid).update(
            post_webhook_url=receiver.url(), webhook_filters=["onMessageSent"]
        )
        admin.chat.v2.services(service.sid).channels.create(unique_name="room")
        writers, each = 6, 10

        def post(i: int) -> None:
            base = cluster.nodes[i % len(cluster.nodes)].url
            for n in range(each):
                response = httpx.post(
                    f"{base}/v2/Services/{service.sid}/Channels/room/Messages",
                    data={"Body": f"{i}-{n}"},
                    headers={"X-Twilio-Webhook-Enabled": "true"},
                    auth=(cluster.account_sid, cluster.auth_token),
                )
                assert response.status_code == 201

        with ThreadPoolExecutor(writers) as pool:
            list(pool.map(post, range(writers)))
        total = writers * each
        got = receiver.wait_for(total, timeout=60)
        time.sleep(1.0)  # anything delivered twice would arrive by now
        indexes = [int(r.params["Index"]) for r in receiver.received]
        assert sorted(indexes) == list(range(total))
        assert indexes == list(range(total)), "one lane per channel keeps index order"
        assert all(r.valid_for(cluster.auth_token, receiver.url()) for r in got)
    finally:
        receiver.stop()


# ---------------------------------------------------------------- presence and typing


def _key(cluster: Cluster) -> dict[str, str]:
    async def make() -> dict[str, str]:
        store = await open_store(cluster.database_url)
        try:
            return await accounts.create_key(store, cluster.account_sid)
        finally:
            await store.close()

    return asyncio.run(make())


def _socket(url: str, cluster: Cluster, key: dict[str, str], identity: str, service: str) -> Any:
    @dataclass
    class _At:  # Twilsock only needs .url
        url: str

    sock = Twilsock(_At(url))  # type: ignore[arg-type]
    reply, _ = sock.init(token(cluster.account_sid, key, identity, service))
    assert reply["status"]["code"] == 200, reply
    return sock


def _online(cluster: Cluster, service: str, identity: str) -> bool:
    return bool(cluster.client(0).chat.v2.services(service).users(identity).fetch().is_online)


def _until_online(cluster: Cluster, service: str, identity: str, wanted: bool) -> None:
    deadline = time.monotonic() + 10
    while _online(cluster, service, identity) is not wanted:
        assert time.monotonic() < deadline, f"{identity} never became online={wanted}"
        time.sleep(0.1)


def test_a_user_stays_online_while_any_node_holds_a_socket(cluster: Cluster) -> None:
    """alice on both nodes: closing her socket on one leaves her online (it
    once marked her offline); closing the last one takes her offline."""
    service = cluster.client(0).chat.v2.services.create(friendly_name="presence")
    cluster.client(0).chat.v2.services(service.sid).update(reachability_enabled=True)
    key = _key(cluster)
    on_a = _socket(cluster.nodes[0].url, cluster, key, "alice", service.sid)
    on_b = _socket(cluster.nodes[1].url, cluster, key, "alice", service.sid)
    try:
        assert _online(cluster, service.sid, "alice")
        on_b.close()
        time.sleep(1.5)  # more than a presence row's lifetime: nothing expires either
        assert _online(cluster, service.sid, "alice"), "offline while her socket on A is open"
    finally:
        on_a.close()
    _until_online(cluster, service.sid, "alice", False)


def test_typing_reaches_members_connected_to_other_nodes(cluster: Cluster) -> None:
    """bob on B is told that alice, on A, is typing, and the other way round."""
    admin = cluster.client(0).chat.v2.services.create(friendly_name="typing")
    svc = cluster.client(0).chat.v2.services(admin.sid)
    room = svc.channels.create(unique_name="room")
    for identity in ("alice", "bob"):
        svc.channels(room.sid).members.create(identity=identity)
    key = _key(cluster)
    alice = _socket(cluster.nodes[0].url, cluster, key, "alice", admin.sid)
    bob = _socket(cluster.nodes[1].url, cluster, key, "bob", admin.sid)
    try:
        for typist, reader, identity in ((alice, bob, "alice"), (bob, alice, "bob")):
            status, body = typist.request(
                "POST",
                f"/Client/v1/Services/{admin.sid}/Typing",
                f"ChannelSid={room.sid}",
                content_type="application/x-www-form-urlencoded",
            )
            assert (status, body) == (200, {"typing_timeout": 5})
            header, payload = reader.until("notification")
            assert header["message_type"] == "twilio.ipmsg.typing_indicator"
            assert payload == {"channel_sid": room.sid, "identity": identity, "typing_timeout": 5}
    finally:
        alice.close()
        bob.close()


def test_a_crashed_nodes_sockets_expire(cluster: Cluster) -> None:
    """A third node holds carol's only socket and is killed: no goodbye, so
    the other nodes see its presence rows expire and take her offline."""
    service = cluster.client(0).chat.v2.services.create(friendly_name="crash")
    cluster.client(0).chat.v2.services(service.sid).update(reachability_enabled=True)
    key = _key(cluster)
    third = start_node(cluster.database_url, cluster.account_sid, cluster.auth_token)
    try:
        carol = _socket(third.url, cluster, key, "carol", service.sid)
        dave = _socket(cluster.nodes[0].url, cluster, key, "dave", service.sid)
        assert _online(cluster, service.sid, "carol")
        third.process.kill()  # SIGKILL: no shutdown, no disconnect hooks
        third.process.wait()
        _until_online(cluster, service.sid, "carol", False)
        assert _online(cluster, service.sid, "dave"), "live nodes' rows are renewed"
        with contextlib.suppress(Exception):
            carol.close()
        dave.close()
    finally:
        if third.process.poll() is None:
            stop_node(third)
