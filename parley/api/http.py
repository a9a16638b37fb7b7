"""The whole REST request flow, in order, in one place:

::

    a client's access token, no Basic auth  503 / 20503 (docs/decisions.md 48)
    auth (Basic: account or API key)        401 / 20003
      -> route match (spec paths)           404 / 20404, 405 / 20004
      -> decode params from the table       400 / 20001, 50xxx
      -> transaction (write or read)
           -> handler: one domain action    (events recorded in the same tx)
      -> commit -> events published         (store.on_commit -> bus)
      -> encode from the table              201 / 200 / 204

Every failure is a ``TwilioError`` rendered by ``_error``; anything else is a
500 with a request id in the log. Pure ASGI: no middleware stack to pay for.
"""

import logging
import time
from collections.abc import MutableMapping
from typing import Any

from parley import sids
from parley.accounts import Authenticator
from parley.api import codec
from parley.api.call import Call
from parley.api.router import Router
from parley.api.table import Operation
from parley.errors import TwilioError, not_found
from parley.metrics import ParleyMetrics
from parley.store import Store
from parley.vault import Vault

log = logging.getLogger("parley.api")

Scope = MutableMapping[str, Any]
BODY_MAX = 1 << 20  # bytes; Twilio's own per-field limits are far below this

_JSON = (b"content-type", b"application/json; charset=utf-8")
ROUTE = "parley.route"  # scope key: the matched operation's path, for metrics
UNMATCHED = "(unmatched)"
SOCKET_ONLY = "access tokens are served on the real-time socket (/v3/wsconnect) only"


class RestApi:
    def __init__(
        self,
        store: Store,
        router: Router,
        base_url: str,
        vault: Vault | None = None,
        *,
        allow_private_webhooks: bool = False,
        metrics: ParleyMetrics | None = None,
    ) -> None:
        self.store = store
        self.vault = vault or Vault(None)
        # webhook URLs on private addresses (docs/security.md, "Webhook targets")
        self.allow_private_webhooks = allow_private_webhooks
        self.metrics = metrics
        self.router = router
        self.base_url = base_url
        self.auth = Authenticator(store)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        started = time.perf_counter()
        request_id = sids.new_request_id()
        try:
            status, body, extra = await self._handle(scope, receive)
        except TwilioError as exc:
            status, body, extra = exc.status, codec.dumps(exc.body()), exc.headers()
        except Exception:
            log.exception("request %s failed: %s %s", request_id, scope["method"], scope["path"])
            error = TwilioError(20500, message=f"Internal Server Error (request {request_id})")
            status, body, extra = 500, codec.dumps(error.body()), []
        headers = [(b"twilio-request-id", request_id.encode()), *extra]
        if status != 204:
            headers.append(_JSON)
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        if self.metrics is not None:
            route = scope.get(ROUTE, UNMATCHED)
            self.metrics.http(route, scope["method"], status, time.perf_counter() - started)

    async def _handle(self, scope: Scope, receive: Any) -> tuple[int, bytes, list[Any]]:
        headers = dict(scope["headers"])
        if b"authorization" not in headers and b"x-twilio-token" in headers:
            # an SDK whose socket is down sends its tunnelled request here over
            # plain HTTP; it retries a 503 and a 401 ends it (docs/decisions.md 48)
            raise TwilioError(20503, detail=SOCKET_ONLY)
        account_sid = await self.authenticate(headers.get(b"authorization"))
        method: str = scope["method"]
        path: str = scope["path"]
        query = codec.parse_form(scope.get("query_string", b""))
        body = codec.parse_form(await read_body(receive)) if method == "POST" else []
        webhooks = headers.get(b"x-twilio-webhook-enabled", b"").lower() == b"true"
        op, out = await self.execute(account_sid, method, path, query, body, webhooks, scope)
        return op.status, b"" if out is None else codec.dumps(out), []

    async def execute(
        self,
        account_sid: str,
        method: str,
        path: str,
        query: codec.Pairs,
        body: codec.Pairs,
        webhooks: bool = False,
        scope: Scope | None = None,
    ) -> tuple[Operation, Any]:
        """One operation for an authenticated account, from route to rendered
        JSON (``None`` for a delete). The REST API and the console both run
        their requests through here, so they share every rule and error."""
        # a decoded %00 names nothing Parley stores (docs/security.md, "Bad input")
        found = (None, {}, False) if "\x00" in path else self.router.match(method, path)
        op, path_params, known = found
        if op is not None and scope is not None:
            scope[ROUTE] = op.path  # the spec's template: a metrics label of few values
        if op is None:
            if known:
                raise TwilioError(20004)
            raise not_found(path)

        form = codec.multidict(body if method == "POST" else query)
        values = codec.decode(op.params, form, allow_private_urls=self.allow_private_webhooks)
        page = codec.page_request(op.resource, form) if op.verb == "list" else None

        transaction = self.store.write() if op.writes else self.store.read()
        async with transaction as tx:
            call = Call(
                account_sid, path, path_params, values, tx, page, webhooks, vault=self.vault
            )
            result = await op.handler(call)
            if op.verb == "list":
                assert page is not None
                out: Any = codec.page_body(op.resource, result, page, self.base_url, path, query)
            elif op.verb == "delete":
                out = None
            else:
                out = op.resource.render(result, self.base_url)
        return op, out

    async def authenticate(self, header: bytes | None) -> str:
        return await authenticate(self.auth, header)


async def authenticate(auth: Authenticator, header: bytes | None) -> str:
    """The account of an ``Authorization: Basic`` header, or 401 / 20003.

    Shared by every HTTP surface that takes REST credentials (the REST API, the
    media upload endpoint)."""
    account = await auth.account_of(header)
    if account is None:
        raise TwilioError(20003)
    return account


async def read_body(receive: Any, limit: int = BODY_MAX) -> bytes:
    """The whole request body; a body over ``limit`` bytes is refused (400)."""
    chunks = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise TwilioError(20001, message=f"Request body larger than {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)
