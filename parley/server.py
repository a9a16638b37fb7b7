"""uvicorn with Parley's drain step: real-time clients get a twilsock 308
offload before uvicorn closes their sockets (uvicorn closes connections before
the lifespan shutdown runs, so the lifespan alone is too late)."""

import socket
from typing import Any

import uvicorn

from parley.app import Parley

# How Parley runs on uvicorn, wherever it is started (CLI, workers, tests).
# Twilsock frames are small JSON: per-message deflate cost a fifth of the
# server's CPU in a 1,000-client fan-out (py-spy, bench/fanout.py) for little
# gain, so WebSockets go uncompressed.
UVICORN_OPTIONS: dict[str, Any] = {
    "lifespan": "on",
    "access_log": False,
    "ws_per_message_deflate": False,
}


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, app: Parley) -> None:
        super().__init__(config)
        self.parley = app

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await self.parley.drain()
        finally:
            await super().shutdown(sockets)
