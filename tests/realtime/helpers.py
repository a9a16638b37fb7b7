"""Shared helpers for the real-time tests: API keys and access tokens."""

import time
from typing import Any

from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import ChatGrant

from parley import accounts
from parley.realtime import frames
from tests.conftest import Server


def make_key(server: Server, account_sid: str) -> dict[str, str]:
    assert server.app.store is not None
    key: dict[str, str] = server.run(accounts.create_key(server.app.store, account_sid))
    return key


def token(
    account_sid: str,
    key: dict[str, str],
    identity: str,
    service_sid: str,
    ttl: int = 3600,
    **kwargs: Any,
) -> str:
    """An access token built by the official helper library, as apps build them."""
    built = AccessToken(
        account_sid, key["sid"], key["secret"], identity=identity, ttl=ttl, **kwargs
    )
    built.add_grant(ChatGrant(service_sid=service_sid))
    jwt: str = built.to_jwt()
    return jwt


def now() -> int:
    return int(time.time())


class Twilsock:
    """A raw twilsock client over a real WebSocket (no SDK): frames in, frames out."""

    def __init__(self, server: Server) -> None:
        from websockets.sync.client import connect

        # entered as a context manager (websockets >= 17.1 warns otherwise); close() exits
        self.ws = connect(server.url.replace("http://", "ws://") + "/v3/wsconnect").__enter__()
        self.notifications: list[tuple[dict[str, Any], Any]] = []
        self.frames: list[tuple[dict[str, Any], Any]] = []
        self._next = 0

    def close(self) -> None:
        self.ws.close()

    def new_id(self) -> str:
        self._next += 1
        return f"TMtest{self._next}"

    def send(self, header: dict[str, Any], payload: Any = None) -> str:
        header.setdefault("id", self.new_id())
        self.ws.send(frames.encode(header, payload))
        return str(header["id"])

    def recv(self, timeout: float = 10) -> tuple[dict[str, Any], Any]:
        """The next frame; notifications and pings are acked like twilsock does."""
        data = self.ws.recv(timeout)
        assert isinstance(data, bytes), "twilsock frames are binary"
        frame = frames.parse(data)
        self.frames.append((frame.header, frame.payload))
        if frame.method not in ("reply", "close"):
            self.ws.send(
                frames.encode({"method": "reply", "id": frame.id, "status": {"code": 200}})
            )
        if frame.method == "notification":
            self.notifications.append((frame.header, frame.payload))
        return frame.header, frame.payload

    def until(self, method: str, timeout: float = 10) -> tuple[dict[str, Any], Any]:
        deadline = time.monotonic() + timeout
        while True:
            header, payload = self.recv(max(0.01, deadline - time.monotonic()))
            if header["method"] == method:
                return header, payload

    def reply_to(self, frame_id: str) -> tuple[dict[str, Any], Any]:
        while True:
            header, payload = self.recv()
            if header["method"] == "reply" and header["id"] == frame_id:
                return header, payload
            assert header["method"] != "close", header

    def init(self, token: str, **extra: Any) -> tuple[dict[str, Any], Any]:
        header = {
            "method": "init",
            "token": token,
            "continuation_token": None,
            "capabilities": ["client_update", "offline_storage", "telemetry.v1"],
            "metadata": {"type": "chat", "sdk": "test"},
            "registrations": [
                {
                    "product": "ip_messaging",
                    "type": "ers",
                    "notification_protocol_version": 0,
                    "message_types": ["twilio.ipmsg.typing_indicator"],
                }
            ],
            **extra,
        }
        return self.reply_to(self.send(header))

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        params: dict[str, str] | None = None,
        host: str = "aim.us1.twilio.com",
        content_type: str = "application/json",
    ) -> tuple[int, Any]:
        """A tunnelled HTTP request; returns (http status, body)."""
        header: dict[str, Any] = {
            "method": "message",
            "active_grant": "ip_messaging",
            "http_request": {
                "host": host,
                "path": path,
                "method": method,
                "params": params or {},
                "headers": {"Content-Type": content_type},
            },
        }
        payload = body
        if isinstance(body, str):
            payload = body.encode()
            header["payload_type"] = content_type
        reply, data = self.reply_to(self.send(header, payload))
        assert reply["status"]["code"] == 200, reply
        return int(reply["http_status"]["code"]), data
