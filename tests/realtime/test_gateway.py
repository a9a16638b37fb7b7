"""The twilsock gateway, driven by a raw WebSocket client (docs/realtime-protocol.md §3-§4)."""

import logging
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from websockets.client import ClientProtocol
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State
from websockets.server import ServerProtocol
from websockets.uri import parse_uri

from parley.domain import users
from parley.realtime import frames
from parley.realtime.gateway import _direct_protocol, binary_message
from parley.realtime.inbound import TwilsockProtocol, skip_frames
from tests.conftest import Account, Server, start_server
from tests.realtime.helpers import Twilsock, make_key, now, token


@pytest.fixture
def key(server: Server, account: Account) -> dict[str, str]:
    return make_key(server, account.sid)


@pytest.fixture
def sock(server: Server) -> Iterator[Twilsock]:
    client = Twilsock(server)
    yield client
    client.close()


def closed(sock: Twilsock) -> bool:
    try:
        sock.recv(5)
    except ConnectionClosed:
        return True
    return False


def test_init_accepts_a_token_and_creates_the_user(
    server: Server, account: Account, key: dict[str, str], service: Any, sock: Twilsock
) -> None:
    reply, _ = sock.init(token(account.sid, key, "alice", service.sid))
    assert reply["status"] == {"code": 200, "status": "OK"}
    assert set(reply["capabilities"]) == {"client_update", "offline_storage"}
    assert reply["continuation_token"]
    assert reply["offline_storage"]["ip_messaging"]["storage_id"]

    async def find() -> Any:
        assert server.app.store is not None
        async with server.app.store.read() as tx:
            svc = {"sid": service.sid}
            return await users.find(tx, svc, "alice")

    user = server.run(find())
    assert user is not None and user["role_sid"] == service.default_service_role_sid


def test_init_with_a_bad_token_is_refused_and_the_socket_closed_without_a_close_frame(
    account: Account,
    key: dict[str, str],
    service: Any,
    sock: Twilsock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    forged = token(account.sid, {"sid": key["sid"], "secret": "z" * 40}, "alice", service.sid)
    with caplog.at_level(logging.INFO, logger="parley.realtime"):
        reply, _ = sock.init(forged)
        assert reply["status"]["code"] == 401
        assert reply["status"]["errorCode"] == 20107
        # no `close 401` frame: the SDK would end "disconnected" instead of "denied"
        assert closed(sock)
    assert all(header["method"] != "close" for header, _ in sock.frames)
    [refused] = [r for r in caplog.records if "init refused" in r.getMessage()]
    assert refused.levelno == logging.INFO and "20107" in refused.getMessage()


def test_a_refused_client_request_is_logged_at_info_with_its_reason(
    account: Account,
    key: dict[str, str],
    service: Any,
    sock: Twilsock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sock.init(token(account.sid, key, "alice", service.sid))
    base = f"/Client/v1/Services/{service.sid}"
    with caplog.at_level(logging.DEBUG, logger="parley.realtime"):
        status, _ = sock.request("GET", f"{base}/Users/bob/Conversations")
        assert status == 403
        status, _ = sock.request("GET", f"{base}/Conversations/nothing-here")
        assert status == 400
    refused, failed = (r for r in caplog.records if "client request" in r.getMessage())
    assert refused.levelno == logging.INFO
    text = refused.getMessage()
    for part in ("refused", "403", "54007", "identity=alice", f"{base}/Users/bob/Conversations"):
        assert part in text, text
    assert failed.levelno == logging.DEBUG and "50300" in failed.getMessage()


def test_init_with_an_expired_token_reports_20104(
    account: Account, key: dict[str, str], service: Any, sock: Twilsock
) -> None:
    claims = jwt.decode(
        token(account.sid, key, "alice", service.sid), options={"verify_signature": False}
    )
    claims["exp"] = now() - 1
    reply, _ = sock.init(jwt.encode(claims, key["secret"], algorithm="HS256"))
    assert (reply["status"]["code"], reply["status"]["errorCode"]) == (401, 20104)


def test_requests_are_routed_by_path_and_answered_with_http_status(
    account: Account, key: dict[str, str], service: Any, sock: Twilsock
) -> None:
    sock.init(token(account.sid, key, "alice", service.sid))
    for host in ("aim.us1.twilio.com", "parley.invalid", "cds.us1.twilio.com"):
        status, body = sock.request("GET", "/Nothing/Here", host=host)
        assert status == 404
        assert body["code"] == 20404 and body["status"] == 404


def test_malformed_frame_closes_with_406_and_the_server_keeps_serving(
    server: Server, account: Account, key: dict[str, str], service: Any, sock: Twilsock
) -> None:
    sock.init(token(account.sid, key, "alice", service.sid))
    sock.ws.send(b"TWILSOCK V3.0 9999\r\n{not json")
    header, _ = sock.until("close")
    assert header["status"]["code"] == 406
    assert closed(sock)

    again = Twilsock(server)
    try:
        reply, _ = again.init(token(account.sid, key, "alice", service.sid))
        assert reply["status"]["code"] == 200
        again.ws.send("a text frame")
        header, _ = again.until("close")
        assert header["status"]["code"] == 406
    finally:
        again.close()


def test_anything_before_init_is_refused(sock: Twilsock) -> None:
    sock.send({"method": "message", "http_request": {"path": "/x", "method": "GET"}})
    header, _ = sock.until("close")
    assert header["status"]["code"] == 406


def test_a_reply_or_a_close_before_init_is_no_protocol_error(
    server: Server, account: Account, key: dict[str, str], service: Any, sock: Twilsock
) -> None:
    """twilsock acknowledges every server frame, a ``close`` sent before its init
    was answered included, and says ``close`` when the app shuts down while it
    is still initialising (docs/realtime-protocol.md §4): neither is answered."""
    sock.send({"method": "reply", "status": {"code": 200}})
    reply, _ = sock.init(token(account.sid, key, "alice", service.sid))
    assert reply["status"]["code"] == 200
    quitting = Twilsock(server)
    try:
        quitting.send({"method": "close"})
        assert closed(quitting)  # the session ended, no close 406 was sent
        assert [h["method"] for h, _ in quitting.frames] == []
    finally:
        quitting.close()


def test_update_refreshes_the_token_for_the_same_identity_only(
    account: Account, key: dict[str, str], service: Any, sock: Twilsock
) -> None:
    sock.init(token(account.sid, key, "alice", service.sid))
    fresh = token(account.sid, key, "alice", service.sid, ttl=7200)
    reply, _ = sock.reply_to(sock.send({"method": "update", "token": fresh}))
    assert reply["status"]["code"] == 200
    someone_else = token(account.sid, key, "mallory", service.sid)
    reply, _ = sock.reply_to(sock.send({"method": "update", "token": someone_else}))
    assert (reply["status"]["code"], reply["status"]["errorCode"]) == (401, 20106)
    # the connection still works with the refreshed token
    status, _ = sock.request("GET", "/Nothing")
    assert status == 404


def test_token_about_to_expire_then_close_410(
    account: Account, key: dict[str, str], service: Any, sock: Twilsock
) -> None:
    sock.init(token(account.sid, key, "alice", service.sid, ttl=2))
    header, _ = sock.until("client_update")
    assert header["client_update_type"] == "token_about_to_expire"
    header, _ = sock.until("close")
    assert header["status"]["code"] == 410
    assert closed(sock)


def test_keepalive_pings_are_sent(
    server: Server, account: Account, key: dict[str, str], service: Any, sock: Twilsock
) -> None:
    gateway = server.app.gateway
    assert gateway is not None
    gateway.keepalive = 0.05
    try:
        sock.init(token(account.sid, key, "alice", service.sid))
        header, _ = sock.until("ping")
        assert header["id"]
    finally:
        del gateway.keepalive


def test_shutdown_offloads_clients_with_308(tmp_path: Path) -> None:
    own = start_server(f"sqlite:///{tmp_path / 'offload.db'}")
    try:
        from tests.conftest import make_client

        assert own.app.store is not None
        from parley import accounts

        acct = own.run(accounts.create_account(own.app.store, "offload"))
        svc = make_client(own, acct["sid"], acct["auth_token"]).chat.v2.services.create(
            friendly_name="offload"
        )
        sock = Twilsock(own)
        sock.init(token(acct["sid"], make_key(own, acct["sid"]), "alice", svc.sid))
    finally:
        own.stop()
    header, body = sock.until("close")
    assert header["status"]["code"] == 308
    assert body["backoff_policy"]["reconnect_min_ms"] > 0


def test_the_offload_leaves_the_socket_to_the_client_to_close(tmp_path: Path) -> None:
    """After the 308 the client closes its socket itself (twilsock does), and
    Parley's shutdown goes on as soon as it has: closing from both ends at once
    made twilio-chat 2.x's ws crash the app (docs/realtime-protocol.md §4)."""
    from parley import accounts
    from tests.conftest import make_client

    own = start_server(f"sqlite:///{tmp_path / 'offload.db'}")
    assert own.app.store is not None and own.app.gateway is not None
    acct = own.run(accounts.create_account(own.app.store, "offload"))
    svc = make_client(own, acct["sid"], acct["auth_token"]).chat.v2.services.create(
        friendly_name="offload"
    )
    sock = Twilsock(own)
    sock.init(token(acct["sid"], make_key(own, acct["sid"]), "alice", svc.sid))
    patience = own.app.gateway.close_timeout
    stopping = threading.Thread(target=own.stop)
    started = time.monotonic()
    stopping.start()
    header, _ = sock.until("close")
    assert header["status"]["code"] == 308
    with pytest.raises(TimeoutError):  # still open: Parley waits for the client
        sock.ws.recv(0.3)
    sock.close()
    stopping.join(10)
    assert not stopping.is_alive()
    assert time.monotonic() - started < patience + 2


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 70000])
def test_a_prebuilt_binary_message_is_what_websockets_would_write(size: int) -> None:
    """The fan-out writes ``binary_message`` bytes on the transport itself:
    they must be the frame websockets' server protocol writes for the same
    data (each length encoding: 7-bit, 16-bit, 64-bit)."""
    data = bytes(i % 251 for i in range(size))
    protocol = ServerProtocol()
    protocol.state = State.OPEN
    protocol.send_binary(data)
    assert binary_message(data) == b"".join(protocol.data_to_send())


def test_frames_go_through_the_asgi_send_unless_the_protocol_is_known() -> None:
    """Another WebSocket implementation (``--ws wsproto``) keeps every frame on
    ``websocket.send_bytes``: only websockets' sans-I/O protocol is written to
    directly."""

    async def receive() -> dict[str, Any]:
        return {}

    class Other:
        async def receive(self) -> dict[str, Any]:
            return {}

    assert _direct_protocol(receive) is None
    assert _direct_protocol(Other().receive) is None


def client_frames(*messages: bytes, text: bool = False) -> bytes:
    """Masked client frames, as a WebSocket client writes them."""
    protocol = ClientProtocol(parse_uri("ws://parley/"))
    protocol.state = State.OPEN
    for message in messages:
        if text:
            protocol.send_text(message)
        else:
            protocol.send_binary(message)
    return b"".join(protocol.data_to_send())


ACK = frames.encode({"method": "reply", "id": "TMack", "status": {"code": 200}})
REQUEST = frames.encode({"method": "message", "id": "TMreq", "http_request": {"path": "/"}})


LONG_ACK = ACK + b" " * 200  # a 16-bit length
ONE = len(client_frames(ACK))


@pytest.mark.parametrize(
    ("data", "taken"),
    [
        (client_frames(ACK, ACK), 2 * ONE),
        (client_frames(ACK, REQUEST, ACK), ONE),
        (client_frames(REQUEST, ACK), 0),
        (client_frames(ACK, ACK)[:-1], ONE),  # the second ack in part
        (client_frames(ACK, text=True), 0),  # text frames are not twilsock frames
        (client_frames(LONG_ACK, ACK), len(client_frames(LONG_ACK)) + ONE),
        (client_frames(ACK + b" " * 2000), 0),  # longer than an ack is
        (binary_message(ACK), 0),  # unmasked: websockets refuses it
        (client_frames(b'TWILSOCK V3.0 5\r\n"reply"'), 0),  # not a frame
    ],
)
def test_inbound_skips_whole_plain_frames_it_recognises(data: bytes, taken: int) -> None:
    assert skip_frames(data, frames.is_reply) == taken


def test_acks_stop_at_the_protocol_and_every_other_frame_goes_on(
    server: Server, account: Account, key: dict[str, str], service: Any, sock: Twilsock
) -> None:
    """The client's acks go no further than uvicorn's protocol; a request in
    the same write after them, a fragmented one, a frame written in two parts
    and pings all reach websockets and the gateway as before."""
    sock.init(token(account.sid, key, "alice", service.sid))
    gateway = server.app.gateway
    assert gateway is not None
    (session,) = [s for s in gateway.sessions if s.grant and s.grant.identity == "alice"]
    protocol = session._protocol
    assert isinstance(protocol, TwilsockProtocol) and protocol.skip is not None
    seen: list[bool] = []

    def recording(data: bytes) -> bool:
        seen.append(frames.is_reply(data))
        return seen[-1]

    protocol.skip = recording
    raw = sock.ws.socket

    def request(frame_id: str) -> bytes:
        header = {"method": "message", "id": frame_id, "http_request": {"path": "/v1/Nowhere"}}
        return frames.encode(header)

    raw.sendall(client_frames(ACK, ACK, request("TMone"), ACK))
    reply, _ = sock.reply_to("TMone")
    assert reply["http_status"]["code"] == 404
    assert seen == [True, True, False]  # the ack after the request went on with it

    whole = client_frames(ACK, request("TMtwo"))
    raw.sendall(whole[:3])  # an ack in two writes: websockets assembles it
    time.sleep(0.05)
    raw.sendall(whole[3:])
    reply, _ = sock.reply_to("TMtwo")
    assert reply["http_status"]["code"] == 404

    fragments = ClientProtocol(parse_uri("ws://parley/"))
    fragments.state = State.OPEN
    first = request("TMthree")
    fragments.send_binary(first[:10], fin=False)
    raw.sendall(b"".join(fragments.data_to_send()))
    time.sleep(0.05)
    fragments.send_continuation(first[10:], fin=True)
    raw.sendall(b"".join(fragments.data_to_send()))
    reply, _ = sock.reply_to("TMthree")
    assert reply["http_status"]["code"] == 404

    del seen[:]
    sock.ws.ping().wait(5)
    raw.sendall(client_frames(ACK))
    deadline = time.monotonic() + 5
    while not seen and time.monotonic() < deadline:
        time.sleep(0.01)
    assert seen == [True]  # at a frame boundary again: the next ack stops there
    status, _ = sock.request("GET", "/v1/Nowhere")
    assert status == 404


@pytest.mark.parametrize("inside", ["payload", "fragmented message"])
def test_what_is_inside_a_frame_is_never_taken_for_an_ack(
    server: Server, account: Account, key: dict[str, str], service: Any, sock: Twilsock, inside: str
) -> None:
    """Bytes that look like an ack where websockets is in the middle of a
    frame (a payload arriving after its header) or of a fragmented message
    are websockets' to judge: a payload that is not a twilsock frame is
    refused (406), a new message inside a fragmented one is a protocol error."""
    sock.init(token(account.sid, key, "alice", service.sid))
    raw = sock.ws.socket
    ack = client_frames(ACK)
    if inside == "payload":
        # a binary frame whose payload is an ack's bytes (mask key zero: as is)
        raw.sendall(struct.pack("!BB", 0x82, 0x80 | len(ack)) + b"\0\0\0\0")
        time.sleep(0.05)
        raw.sendall(ack)
        header, _ = sock.until("close")
        assert header["status"]["code"] == 406
    else:
        fragments = ClientProtocol(parse_uri("ws://parley/"))
        fragments.state = State.OPEN
        fragments.send_binary(REQUEST[:10], fin=False)
        raw.sendall(b"".join(fragments.data_to_send()))
        time.sleep(0.05)
        raw.sendall(ack)
    assert closed(sock)
