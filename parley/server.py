"""uvicorn with Parley's drain step: real-time clients get a twilsock 308
offload before uvicorn closes their sockets (uvicorn closes connections before
the lifespan shutdown runs, so the lifespan alone is too late)."""

import socket

import uvicorn

from parley.app import Parley


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, app: Parley) -> None:
        super().__init__(config)
        self.parley = app

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await self.parley.drain()
        finally:
            await super().shutdown(sockets)
