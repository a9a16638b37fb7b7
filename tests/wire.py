"""A TCP proxy in front of PostgreSQL that counts what crosses the wire.

For each client connection it counts **round trips** (turns: the client sends
after the server last spoke, so it waited for an answer) and the protocol's
statement messages (``Execute`` of the extended protocol, ``Query`` of the
simple one). Counted from the bytes, not from Parley's code: a statement that
bypasses the store's wrappers is counted too.
"""

import struct
import threading
from dataclasses import dataclass, field

from tests.hardening.proxy import Proxy, Tap

_SSL_REQUEST = 80877103
_GSS_REQUEST = 80877104


@dataclass
class Counts:
    round_trips: int = 0
    statements: int = 0  # Execute ('E') + Query ('Q') messages
    texts: list[str] = field(default_factory=list)  # simple-protocol query texts


class _Conn:
    def __init__(self, counts: Counts, lock: threading.Lock) -> None:
        self.counts = counts
        self.lock = lock
        self.server_spoke = True  # the first client bytes are a turn
        self.started = False  # past the startup packet(s)
        self.buffer = b""

    def from_client(self, data: bytes) -> None:
        with self.lock:
            if self.server_spoke and self.started:
                self.counts.round_trips += 1
            self.server_spoke = False
            self.buffer += data
            self._parse()

    def from_server(self) -> None:
        with self.lock:
            self.server_spoke = True

    def _parse(self) -> None:
        while True:
            if not self.started:
                if len(self.buffer) < 8:
                    return
                length, code = struct.unpack("!ii", self.buffer[:8])
                if len(self.buffer) < length:
                    return
                self.buffer = self.buffer[length:]
                if code not in (_SSL_REQUEST, _GSS_REQUEST):
                    self.started = True  # the startup message proper
                continue
            if len(self.buffer) < 5:
                return
            kind = self.buffer[:1]
            (length,) = struct.unpack("!i", self.buffer[1:5])
            if len(self.buffer) < 1 + length:
                return
            body, self.buffer = self.buffer[5 : 1 + length], self.buffer[1 + length :]
            if kind in (b"E", b"Q"):
                self.counts.statements += 1
            if kind == b"Q":
                self.counts.texts.append(body.rstrip(b"\x00").decode(errors="replace"))


class CountingProxy(Proxy):
    """``start()`` listens on 127.0.0.1 (``port``); ``counts`` adds up over
    every connection until ``reset()``."""

    def __init__(self, target_host: str, target_port: int) -> None:
        super().__init__(target_host, target_port)
        self.counts = Counts()
        self._meters: list[_Conn] = []

    def reset(self) -> Counts:
        """The counts so far, and start again from zero."""
        with self._lock:
            counts, self.counts = self.counts, Counts()
            for meter in self._meters:
                meter.counts = self.counts
        return counts

    def start(self) -> "CountingProxy":
        super().start()
        return self

    def _taps(self) -> tuple[Tap | None, Tap | None]:
        with self._lock:
            meter = _Conn(self.counts, self._lock)
            self._meters.append(meter)
        # the server's bytes are counted before they are forwarded: the client
        # cannot answer earlier
        return meter.from_client, lambda _data: meter.from_server()
