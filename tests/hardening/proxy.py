"""A TCP proxy the tests can cut and restore: a database or Redis that goes
away mid-run and comes back on the same address."""

import contextlib
import socket
import threading
from collections.abc import Callable

Tap = Callable[[bytes], None]


class Proxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> "Proxy":
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def stop(self) -> None:
        """Refuse new connections and cut every open one."""
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def _taps(self) -> tuple[Tap | None, Tap | None]:
        """What sees each new connection's bytes on their way up (client to
        target) and down, before they are forwarded; none here."""
        return None, None

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            up, down = self._taps()
            with self._lock:
                self._conns += [client, upstream]
            for a, b, tap in ((client, upstream, up), (upstream, client, down)):
                threading.Thread(target=self._pump, args=(a, b, tap), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket, tap: Tap | None) -> None:
        try:
            while data := source.recv(65536):
                if tap is not None:
                    tap(data)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)
