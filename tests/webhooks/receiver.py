"""A real HTTP receiver on 127.0.0.1 that records every webhook request.

Threaded ``http.server``: each request is recorded with its method, the URL
exactly as requested, its headers and its decoded parameters. Responses can be
scripted per request (a status, or a delay that outlasts the sender's timeout).
"""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from twilio.request_validator import RequestValidator


@dataclass
class Received:
    method: str
    url: str  # as requested: scheme://host:port + path + query
    path: str
    headers: dict[str, str]
    params: dict[str, str]  # form body (POST) or query (GET)
    body: bytes
    at: float = field(default_factory=time.time)

    def valid_for(self, auth_token: str, configured_url: str) -> bool:
        """The SDK's own validator accepts the request's signature."""
        validator = RequestValidator(auth_token)
        signature = self.headers.get("X-Twilio-Signature", "")
        if self.method == "GET":
            return bool(validator.validate(self.url, {}, signature))
        return bool(validator.validate(configured_url, self.params, signature))


# a reply: status code, or (status, body), or ("sleep", seconds) before a 200
Reply = int | tuple[int, bytes] | tuple[str, float]


class Receiver:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.lock = threading.Condition()
        self.script: list[Reply] = []  # replies for the next requests, in order
        self.reply: Callable[[Received], Reply] | None = None  # or computed per request
        self._server: ThreadingHTTPServer | None = None
        self.port = 0

    def start(self, port: int = 0) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                split = urlsplit(self.path)
                raw = split.query if self.command == "GET" else body.decode()
                item = Received(
                    self.command,
                    f"http://127.0.0.1:{receiver.port}{self.path}",
                    split.path,
                    dict(self.headers.items()),
                    dict(parse_qsl(raw, keep_blank_values=True)),
                    body,
                )
                with receiver.lock:
                    receiver.received.append(item)
                    receiver.lock.notify_all()
                reply = receiver._next(item)
                status, payload = 200, b""
                if isinstance(reply, int):
                    status = reply
                elif reply[0] == "sleep":
                    time.sleep(float(reply[1]))
                else:
                    status, payload = int(reply[0]), bytes(reply[1])  # type: ignore[arg-type]
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the sender gave up (timeout) and closed the connection

            do_GET = _handle
            do_POST = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _next(self, item: Received) -> Reply:
        with self.lock:
            if self.script:
                return self.script.pop(0)
        return self.reply(item) if self.reply is not None else 200

    def wait_for(
        self, count: int, timeout: float = 10.0, where: Callable[[Received], bool] | None = None
    ) -> list[Received]:
        """Block until ``count`` matching requests arrived; returns them in arrival order."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                found = [r for r in self.received if where is None or where(r)]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} webhook requests, got {len(found)}")
                self.lock.wait(left)

    def quiet(self, seconds: float) -> list[Received]:
        """Everything received after waiting ``seconds`` (to prove nothing more arrives)."""
        time.sleep(seconds)
        with self.lock:
            return list(self.received)
