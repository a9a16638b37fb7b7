"""uvicorn as Parley runs on it: the drain step, and a deadline for request heads.

- Real-time clients get a twilsock 308 offload before uvicorn closes their
  sockets (uvicorn closes connections before the lifespan shutdown runs, so
  the lifespan alone is too late).
- uvicorn has no deadline for a request's head: a connection that sends part
  of its headers (or nothing) stays accepted for ever, and a few hundred of
  them (slowloris) hold the server's sockets. ``HeadTimeoutProtocol`` closes a
  connection whose request line and headers are not complete within
  ``PARLEY_HEADER_TIMEOUT`` seconds of its first byte, or of the connection
  (docs/security.md, "Slow and idle connections").
"""

import asyncio
import functools
import socket
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from parley.app import Parley
from parley.config import Settings
from parley.realtime.inbound import TwilsockProtocol

# How Parley runs on uvicorn, wherever it is started (CLI, workers, tests).
# Twilsock frames are small JSON: per-message deflate cost a fifth of the
# server's CPU in a 1,000-client fan-out (py-spy, bench/fanout.py) for little
# gain, so WebSockets go uncompressed; and the clients' acknowledgements of
# what they were sent stop where they arrive (parley/realtime/inbound.py).
UVICORN_OPTIONS: dict[str, Any] = {
    "lifespan": "on",
    "access_log": False,
    "ws_per_message_deflate": False,
    "ws": TwilsockProtocol,
}


class HeadTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol, closing connections slow to send a head."""

    def __init__(self, *args: Any, header_timeout: float = 10.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timeout = header_timeout
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self._header_timeout, self._expired)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _expired(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """UVICORN_OPTIONS plus the protocol with the settings' head deadline (a
    partial of a module-level class: it survives the pickling of --workers)."""
    protocol = functools.partial(HeadTimeoutProtocol, header_timeout=settings.header_timeout)
    return {**UVICORN_OPTIONS, "http": protocol}


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, app: Parley) -> None:
        super().__init__(config)
        self.parley = app

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await self.parley.drain()
        finally:
            await super().shutdown(sockets)
