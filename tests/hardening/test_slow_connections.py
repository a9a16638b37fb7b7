"""Issue 18: 200 slowloris connections were still accepted after 30 s. A request's
line and headers must arrive within PARLEY_HEADER_TIMEOUT of the connection or
of the request's first byte (docs/security.md, "Slow and idle connections")."""

import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from parley.testing import ParleyServer
from tests.realtime.helpers import Twilsock


@pytest.fixture(scope="module")
def server() -> Iterator[ParleyServer]:
    with ParleyServer(header_timeout=0.5) as running:
        yield running


def _closed_within(sock: socket.socket, seconds: float) -> float | None:
    """Seconds until the server closed the connection, or None."""
    started = time.monotonic()
    sock.settimeout(seconds)
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        return None
    except ConnectionResetError:
        pass
    return time.monotonic() - started


def _connect(server: ParleyServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port))


def test_a_connection_that_sends_nothing_is_closed(server: ParleyServer) -> None:
    with _connect(server) as sock:
        waited = _closed_within(sock, 5)
    assert waited is not None and waited < 3


def test_headers_trickling_in_are_cut_off(server: ParleyServer) -> None:
    socks = [_connect(server) for _ in range(20)]
    try:
        for sock in socks:
            sock.sendall(b"GET /v2/Services HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        for n in range(3):  # a header now and then keeps no one alive
            time.sleep(0.1)
            for sock in socks:
                sock.sendall(b"X-Slow-%d: 1\r\n" % n)
        for sock in socks:
            waited = _closed_within(sock, 5)
            assert waited is not None and waited < 3
    finally:
        for sock in socks:
            sock.close()


def test_prompt_requests_and_keep_alive_are_unaffected(server: ParleyServer) -> None:
    creds = server.create_credentials()
    with httpx.Client(base_url=server.url, auth=(creds.account_sid, creds.auth_token)) as http:
        assert http.get("/v2/Services").status_code == 200
        time.sleep(0.8)  # idle beyond the head deadline, within uvicorn's keep-alive
        assert http.get("/v2/Services").status_code == 200


def test_websockets_outlive_the_head_deadline(server: ParleyServer) -> None:
    sock = Twilsock(server)  # type: ignore[arg-type]
    try:
        time.sleep(0.8)
        sock.send({"method": "init", "token": "not a token"})
        header, _ = sock.until("reply", timeout=5)
        assert header["status"]["code"] == 401
    finally:
        sock.close()
