"""Issue 18, real-time: a socket that stops reading delayed another tenant's
live events by 48 s; sockets that never sent ``init`` stayed open; one socket's
``put_notification_ctx`` frames grew the server without bound. Each session has
a bounded send queue and is dropped when it falls behind; init has a deadline;
sockets per token and per account and a socket's contexts are bounded
(docs/security.md, "Real-time connections")."""

import base64
import os
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from parley.realtime import frames
from parley.testing import Credentials, ParleyServer
from tests.realtime.helpers import Twilsock, token

SETTINGS = {"ws_init_timeout": 0.5, "ws_sockets_per_token": 2, "ws_sockets_per_account": 4}


@pytest.fixture(scope="module")
def server() -> Iterator[ParleyServer]:
    with ParleyServer(**SETTINGS) as running:
        yield running


class Tenant:
    """An account with a service, a channel "general" and members alice and bob."""

    def __init__(self, server: ParleyServer) -> None:
        self.server = server
        self.creds: Credentials = server.create_credentials()
        creds = self.creds
        self.http = httpx.Client(base_url=server.url, auth=(creds.account_sid, creds.auth_token))
        self.service = self.http.post("/v2/Services", data={"FriendlyName": "t"}).json()["sid"]
        channel = self.http.post(
            f"/v2/Services/{self.service}/Channels", data={"UniqueName": "general"}
        ).json()
        self.channel = channel["sid"]
        for identity in ("alice", "bob"):
            self.http.post(
                f"/v2/Services/{self.service}/Channels/general/Members",
                data={"Identity": identity},
            ).raise_for_status()

    def token(self, identity: str = "alice") -> str:
        key = {"sid": self.creds.api_key_sid, "secret": self.creds.api_key_secret}
        return token(self.creds.account_sid, key, identity, self.service)

    def post(self, body: str) -> None:
        self.http.post(
            f"/v2/Services/{self.service}/Channels/general/Messages", data={"Body": body}
        ).raise_for_status()


@pytest.fixture
def tenants(server: ParleyServer) -> Iterator[Any]:
    made: list[Tenant] = []

    def make() -> Tenant:
        made.append(Tenant(server))
        return made[-1]

    yield make
    for one in made:
        one.http.close()


def _subscription(object_name: str, kind: str = "list") -> tuple[dict[str, Any], Any]:
    header = {
        "method": "message",
        "id": "TMsub",
        "active_grant": "ip_messaging",
        "http_request": {
            "host": "cds.us1.twilio.com",
            "path": "/v4/Subscriptions",
            "method": "POST",
            "params": {},
            "headers": {"Content-Type": "application/json"},
        },
    }
    body = {
        "event_protocol_version": 4,
        "action": "establish",
        "correlation_id": 1,
        "requests": [{"object_sid": object_name, "object_type": kind, "last_event_id": None}],
    }
    return header, body


class SilentClient:
    """A WebSocket client that sends frames and never reads one: a raw socket
    with a tiny receive buffer, so the server's writes back up quickly."""

    def __init__(self, server: ParleyServer) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.connect(("127.0.0.1", server.port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                "GET /v3/wsconnect HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        assert b" 101 " in head.split(b"\r\n", 1)[0], head

    def send(self, header: dict[str, Any], payload: Any = None) -> None:
        data = frames.encode(header, payload)
        mask = os.urandom(4)
        size = len(data)
        if size < 126:
            length = bytes([0x80 | size])
        elif size < 65536:
            length = bytes([0x80 | 126]) + size.to_bytes(2, "big")
        else:
            length = bytes([0x80 | 127]) + size.to_bytes(8, "big")
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.sock.sendall(bytes([0x82]) + length + mask + masked)

    def closed_by_server(self, timeout: float) -> bool:
        """Whether the server cut the connection (reading what piled up)."""
        self.sock.settimeout(timeout)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if not self.sock.recv(1 << 20):
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except TimeoutError:
            return False
        return False

    def close(self) -> None:
        self.sock.close()


def _sessions(server: ParleyServer) -> int:
    gateway = server.app.gateway
    assert gateway is not None
    return len(gateway.sessions)


def test_a_socket_that_stops_reading_is_dropped_and_delays_no_one(
    server: ParleyServer, tenants: Any
) -> None:
    gateway = server.app.gateway
    assert gateway is not None
    gateway.send_queue_bytes = 256 * 1024
    slow_tenant, other = tenants(), tenants()
    silent = SilentClient(server)
    silent.send({"method": "init", "id": "TMinit", "token": slow_tenant.token()})
    silent.send(*_subscription(f"{slow_tenant.channel}.messages"))
    watcher = Twilsock(server)  # type: ignore[arg-type]
    try:
        watcher.init(other.token("bob"))
        status, _ = watcher.request(
            "POST",
            "/v4/Subscriptions",
            _subscription(f"{other.channel}.messages")[1],
            host="cds.us1.twilio.com",
        )
        assert status == 202
        watcher.until("notification")  # subscription_established
        big = "x" * 32_000
        assert _sessions(server) == 2
        for n in range(300):  # up to ~10 MB of live events for a client that reads nothing
            slow_tenant.post(f"{n} {big}")
            if _sessions(server) == 1:
                break  # dropped
        started = time.monotonic()
        other.post("hello bob")
        while True:
            _, payload = watcher.until("notification", timeout=5)
            if payload.get("event", {}).get("item_data", {}).get("text") == "hello bob":
                break
        assert time.monotonic() - started < 2.0
        assert silent.closed_by_server(5)
        deadline = time.monotonic() + 5
        while _sessions(server) > 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _sessions(server) == 1  # the watcher's
    finally:
        silent.close()
        watcher.close()
        gateway.send_queue_bytes = type(gateway).send_queue_bytes


def test_a_socket_that_never_says_init_is_closed(server: ParleyServer) -> None:
    before = _sessions(server)
    sock = Twilsock(server)  # type: ignore[arg-type]
    try:
        header, _ = sock.until("close", timeout=3)
        assert header["status"]["code"] == 408
        with pytest.raises(ConnectionClosed):
            sock.recv(3)
    finally:
        sock.close()
    assert _sessions(server) == before


def test_sockets_per_token_and_per_account_are_bounded(server: ParleyServer, tenants: Any) -> None:
    tenant = tenants()
    opened: list[Twilsock] = []
    try:
        first = tenant.token()
        for _ in range(2):
            sock = Twilsock(server)  # type: ignore[arg-type]
            opened.append(sock)
            assert sock.init(first)[0]["status"]["code"] == 200
        third = Twilsock(server)  # type: ignore[arg-type]
        opened.append(third)
        reply, _ = third.init(first)
        assert (reply["status"]["code"], reply["status"]["errorCode"]) == (429, 20429)
        assert third.until("close")[0]["status"]["code"] == 429
        # other tokens of the account, up to the account's limit of 4
        for identity in ("bob", "carol"):
            sock = Twilsock(server)  # type: ignore[arg-type]
            opened.append(sock)
            assert sock.init(tenant.token(identity))[0]["status"]["code"] == 200
        fifth = Twilsock(server)  # type: ignore[arg-type]
        opened.append(fifth)
        reply, _ = fifth.init(tenant.token("dave"))
        assert reply["status"]["code"] == 429 and "account" in reply["status"]["description"]
        # another account is not affected
        neighbour = Twilsock(server)  # type: ignore[arg-type]
        opened.append(neighbour)
        assert neighbour.init(tenants().token())[0]["status"]["code"] == 200
        # a closed socket gives its place back
        opened[0].close()
        deadline = time.monotonic() + 5
        while True:
            again = Twilsock(server)  # type: ignore[arg-type]
            opened.append(again)
            if again.init(first)[0]["status"]["code"] == 200:
                break
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        for sock in opened:
            sock.close()


def test_notification_contexts_are_bounded(server: ParleyServer, tenants: Any) -> None:
    tenant = tenants()
    sock = Twilsock(server)  # type: ignore[arg-type]
    try:
        sock.init(tenant.token())
        gateway = server.app.gateway
        assert gateway is not None
        [session] = [
            s
            for s in gateway.sessions
            if s.grant and s.grant.account_sid == tenant.creds.account_sid
        ]

        def put(ctx_id: str, payload: Any) -> dict[str, Any]:
            frame_id = sock.send(
                {"method": "put_notification_ctx", "notification_ctx_id": ctx_id}, payload
            )
            return sock.reply_to(frame_id)[0]["status"]

        for n in range(gateway.contexts_max):
            assert put(f"ctx{n}", {"message_types": [f"type{n}", f"more{n}"]})["code"] == 200
        refused = put("one-too-many", {})
        assert refused["code"] == 400 and "Too many" in refused["description"]
        assert put("ctx0", {"replaced": True})["code"] == 200  # replacing is fine
        huge = put("ctx1", {"blob": "x" * (gateway.context_bytes_max + 1)})
        assert huge["code"] == 400 and "too large" in huge["description"]
        assert len(session.contexts) == gateway.contexts_max
        assert len(session.message_types) <= gateway.message_types_max
    finally:
        sock.close()


def test_subscription_batches_are_bounded(server: ParleyServer, tenants: Any) -> None:
    tenant = tenants()
    sock = Twilsock(server)  # type: ignore[arg-type]
    try:
        sock.init(tenant.token())
        _, body = _subscription(f"{tenant.channel}.messages")
        body["requests"] = body["requests"] * 101
        status, reply = sock.request("POST", "/v4/Subscriptions", body, host="cds.us1.twilio.com")
        assert (status, reply["code"]) == (400, 54008)
    finally:
        sock.close()
