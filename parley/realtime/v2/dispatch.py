"""Version 1's reads, called from version 2 by their tunnelled path
(docs/realtime-protocol.md §7.2): the same handler, checks and codes as a
5.x/6.x client's request. (Commands run version 1's client actions by name,
session.py.)"""

from typing import Any
from urllib.parse import quote

from parley.realtime.tunnel import Request, Response


def base(service_sid: str) -> str:
    """The chat client endpoints' path prefix (§7: ``B``)."""
    return f"/Client/v1/Services/{service_sid}"


def part(value: str) -> str:
    """One path segment (an identity, a unique name) as the route reads it back."""
    return quote(value, safe="")


async def call(
    origin: Request,
    method: str,
    path: str,
    body: Any = None,
    params: dict[str, str] | None = None,
) -> Response:
    """Run the version 1 endpoint at ``method path`` as ``origin``'s caller."""
    handler, path_params = origin.session.gateway.routes.match(method, path)
    request = Request(
        origin.session,
        method,
        path,
        params or {},
        body,
        origin.headers,
        origin.runtime,
        path_params,
        origin.own_events,
    )
    return await handler(request)
