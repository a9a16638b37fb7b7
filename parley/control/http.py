"""``/parley/v1/…``: the control plane's HTTP face.

::

    POST /parley/v1/reset            the caller's account; with the admin token
                                     (Authorization: Bearer …) and ?all=true, everything
    GET  /parley/v1/state            the caller's account as a parley-state dump
    POST /parley/v1/seed             load a dump (JSON, or the same as YAML) or a
                                     YAML seed file (see control/seed.py), idempotently

Other subsystems' endpoints (``routes``) are a list the app's lifespan builds
and passes in (webhooks:
``parley/webhooks/routes.py``; simulated clients: ``parley/realtime/simulate.py``),
so this module knows none of their internals.

Authenticated with the account's own Basic credentials; a dump of another
account is refused. Errors use Twilio's error body.
"""

import hmac
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import orjson

from parley.api import codec
from parley.api.http import RestApi, read_body
from parley.control import seed, state
from parley.errors import TwilioError, not_found

PREFIX = "/parley/v1/"
Handler = Callable[["ControlPlane", str | None, dict[str, Any]], Awaitable[Any]]
# run in the reset's transaction: (tx, account SID, or None for every account)
# (method, name under /parley/v1/, handler)
Route = tuple[str, str, Handler]


def query_value(request: dict[str, Any], name: str) -> str | None:
    """A handler's query parameter (the last one given), for other subsystems' routes."""
    values = request["query"].get(name)
    return str(values[-1]) if values else None


def query_limit(request: dict[str, Any], default: int = 1000) -> int:
    """``limit``: 1-10000, else Twilio's 20001 body."""
    limit = query_value(request, "limit") or str(default)
    if not limit.isdigit() or not 1 <= int(limit) <= 10_000:
        raise TwilioError(20001, message="limit must be 1-10000")
    return int(limit)


class ControlPlane:
    def __init__(
        self,
        api: RestApi,
        admin_token: str | None,
        routes: Sequence[Route] = (),
    ) -> None:
        self.api = api
        self.store = api.store
        self.admin_token = admin_token
        self.routes: dict[tuple[str, str], Handler] = {
            ("POST", "reset"): ControlPlane.reset,
            ("GET", "state"): ControlPlane.state,
            ("POST", "seed"): ControlPlane.seed,
        }
        for method, name, handler in routes:  # deliveries, faults, simulate
            self.routes[(method, name)] = handler

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        extra: list[tuple[bytes, bytes]] = []
        try:
            status, body = await self._handle(scope, receive)
        except TwilioError as exc:
            status, body, extra = exc.status, exc.body(), exc.headers()
        data = b"" if body is None else orjson.dumps(body)
        headers = [(b"content-length", str(len(data)).encode()), *extra]
        if body is not None:
            headers.append((b"content-type", b"application/json; charset=utf-8"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})

    async def _handle(self, scope: Any, receive: Any) -> tuple[int, Any]:
        headers = dict(scope["headers"])
        auth = headers.get(b"authorization", b"")
        admin = bool(
            self.admin_token
            and auth[:7].lower() == b"bearer "
            and hmac.compare_digest(auth[7:].strip(), self.admin_token.encode())
        )
        account = None if admin else await self.api.authenticate(auth or None)
        name = scope["path"][len(PREFIX) :]
        handler = self.routes.get((scope["method"], name))
        if handler is None:
            if any(n == name for _, n in self.routes):
                raise TwilioError(20004)
            raise not_found(scope["path"])
        request = {
            "query": codec.multidict(codec.parse_form(scope.get("query_string", b""))),
            "body": await read_body(receive) if scope["method"] == "POST" else b"",
            "content_type": headers.get(b"content-type", b"").decode(),
            "admin": admin,
        }
        return 200, await handler(self, account, request)

    async def reset(self, account: str | None, request: dict[str, Any]) -> Any:
        everything = request["query"].get("all", ["false"])[-1].lower() == "true"
        if account is None and not everything:
            raise TwilioError(20001, message="An admin reset needs all=true")
        if everything and not request["admin"]:
            raise TwilioError(20403, message="Resetting every account needs the admin token")
        async with self.store.write() as tx:
            await state.reset(tx, None if everything else account)
        return {"reset": "all" if everything else account}

    async def state(self, account: str | None, request: dict[str, Any]) -> Any:
        if account is None:
            raise TwilioError(20001, message="State is per account: use the account's credentials")
        async with self.store.read() as tx:
            return await state.export(tx, account)

    async def seed(self, account: str | None, request: dict[str, Any]) -> Any:
        if account is None:
            raise TwilioError(20001, message="Seeds are per account: use the account's credentials")
        document = seed.parse(request["body"], request["content_type"])
        try:
            if isinstance(document, dict) and document.get("format") == state.FORMAT:
                state.check(document, account)
                async with self.store.write() as tx:
                    written = await state.restore(tx, account, document)
                return {"loaded": written}
            async with self.store.write() as tx:
                return {"seeded": await seed.apply(tx, account, document, self.api.vault)}
        except (state.DumpError, seed.SeedError) as exc:
            raise TwilioError(20001, message=str(exc)) from None
