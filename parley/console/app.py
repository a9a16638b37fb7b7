"""The web console at ``/console`` (docs/console.md).

::

    request -> security headers on every response (CSP, no-store, nosniff)
      -> session cookie -> session row      (none: sign-in page, or 401 for htmx)
      -> POST: CSRF token of the session    (missing or wrong: 403, nothing runs)
      -> page handler: REST operations through RestApi.execute, with the form's
         fields as the operation's params   (the same decode, rules, transaction,
                                             events, webhooks and errors as REST)
      -> TwilioError: the page again, the message next to the field it names
      -> success: 303 to the page that shows the result

Forms name their fields with Twilio's parameter names (``FriendlyName``,
``Notifications.NewMessage.Enabled``), so a form posts exactly what a REST
client would. Pages render the JSON the REST API returns.
"""

import hmac
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jinja2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from parley import sids
from parley.api import codec
from parley.api.http import RestApi, read_body
from parley.console import catalog, sessions
from parley.errors import TwilioError

PREFIX = "/console"
COOKIE = "parley_console"
SIGN_IN_COOKIE = "parley_console_signin"  # the sign-in form's CSRF token (double submit)
CSRF_FIELD = "csrf_token"
# a form's "send webhooks" box: REST's X-Twilio-Webhook-Enabled header, off unless checked
WEBHOOKS_FIELD = "X-Twilio-Webhook-Enabled"
_CONSOLE_FIELDS = frozenset({CSRF_FIELD, WEBHOOKS_FIELD})

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]
# what a redirect's ?notice= may say: only these texts, never the query's own
NOTICES = {
    "created": "Created.",
    "saved": "Saved.",
    "deleted": "Deleted.",
    "posted": "Message posted.",
    "signed-out": "Signed out.",
}
STATIC = {
    "htmx.min.js": "text/javascript; charset=utf-8",
    "htmx.LICENSE.txt": "text/plain; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
}


@dataclass(slots=True)
class Page:
    """One console request: its session and, for a POST, the form."""

    request: Request
    session: sessions.Session
    pairs: list[tuple[str, str]] = field(default_factory=list)  # the form minus CSRF

    @property
    def form(self) -> dict[str, list[str]]:
        return codec.multidict(self.pairs)

    @property
    def posted(self) -> bool:
        return self.request.method == "POST"


Handler = Callable[["Console", Page], Awaitable[Response]]


class Console:
    """The console's ASGI app. Its pages (``parley/console/pages.py``: path ->
    handler, and the sign-out handler) are given by whoever builds it."""

    def __init__(
        self, api: RestApi, pages: Sequence[tuple[str, Handler]], sign_out: Handler
    ) -> None:
        self.api = api
        self.store = api.store
        self.env = jinja2.Environment(
            loader=jinja2.PackageLoader("parley.console", "templates"),
            autoescape=True,
            extensions=["jinja2.ext.do"],
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.globals.update(catalog=catalog, page_token=page_token)
        self.static = {
            name: resources.files("parley.console").joinpath("static", name).read_bytes()
            for name in STATIC
        }
        routes = [
            Route(PREFIX, self.home),
            Route(PREFIX + "/", self.home),
            Route(PREFIX + "/sign-in", self.sign_in, methods=["GET", "POST"]),
            Route(PREFIX + "/sign-out", self._page(sign_out), methods=["POST"]),
            Route(PREFIX + "/static/{name}", self.static_file),
        ]
        for path, handler in pages:
            routes.append(Route(PREFIX + path, self._page(handler), methods=["GET", "POST"]))
        self.app = Starlette(routes=routes)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def secured(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += _SECURITY_HEADERS
                if not any(k == b"cache-control" for k, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, secured)

    # ------------------------------------------------------------ REST bridge

    async def run(self, page: Page, method: str, path: str, pairs: Any = ()) -> Any:
        """A REST operation as the signed-in account: its rendered JSON."""
        items = [(k, v) for k, v in pairs if k not in _CONSOLE_FIELDS]
        query = items if method != "POST" else []
        body = items if method == "POST" else []
        webhooks = (WEBHOOKS_FIELD, "true") in pairs
        account = page.session.account_sid
        _, out = await self.api.execute(account, method, path, query, body, webhooks)
        return out

    async def every(self, page: Page, path: str, key: str, limit: int = 1000) -> list[Any]:
        """All items of a (short) REST list: roles, a channel's webhooks."""
        items: list[Any] = []
        token: str | None = None
        while len(items) < limit:
            query = [("PageSize", "100")] + ([("PageToken", token)] if token else [])
            out = await self.run(page, "GET", path, query)
            items += out[key]
            token = page_token(out["meta"]["next_page_url"])
            if token is None:
                break
        return items

    def errors(self, method: str, path: str, exc: TwilioError) -> dict[str, str]:
        """Twilio's message keyed by the form field it is about ("" for the form)."""
        return {field_of(self.api, method, path, exc): f"{exc.message} ({exc.code})"}

    # ------------------------------------------------------------ responses

    def render(
        self, request: Request, template: str, status: int = 200, **context: Any
    ) -> HTMLResponse:
        notice = NOTICES.get(request.query_params.get("notice", ""))
        context.setdefault("errors", {})
        context.setdefault("submitted", {})
        context.setdefault("session", None)
        html = self.env.get_template(template).render(
            notice=notice, path=request.url.path, csrf=_csrf(context["session"]), **context
        )
        return HTMLResponse(html, status_code=status)

    def _page(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            session = await sessions.find(self.store, request.cookies.get(COOKIE))
            if session is None:
                if request.headers.get("hx-request"):
                    return Response(status_code=401, headers={"hx-redirect": PREFIX + "/sign-in"})
                return RedirectResponse(PREFIX + "/sign-in", status_code=303)
            page = Page(request, session)
            try:
                if request.method == "POST":
                    pairs = await _form(request)
                    sent = [v for k, v in pairs if k == CSRF_FIELD]
                    if len(sent) != 1 or not hmac.compare_digest(sent[0], session.csrf):
                        return self.refused(request, session)
                    page.pairs = [(k, v) for k, v in pairs if k != CSRF_FIELD]
                return await handler(self, page)
            except TwilioError as exc:
                # a read the page itself needed failed (a deleted channel, a bad SID)
                return self.render(
                    request, "error.html", status=exc.status, session=session, error=exc
                )

        return endpoint

    def refused(self, request: Request, session: sessions.Session | None) -> HTMLResponse:
        return self.render(request, "refused.html", status=403, session=session)

    # ------------------------------------------------------------ public routes

    async def home(self, request: Request) -> Response:
        return RedirectResponse(PREFIX + "/services", status_code=303)

    async def static_file(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            return Response("Not found", status_code=404, media_type="text/plain")
        return Response(
            self.static[name],
            media_type=STATIC[name],
            headers={"cache-control": "public, max-age=3600"},
        )

    async def sign_in(self, request: Request) -> Response:
        """Account SID + Auth Token (or API key SID + secret). A wrong pair gets
        one message that does not say which half was wrong; repeated failures
        wait (sessions.failed)."""
        if request.method == "GET":
            session = await sessions.find(self.store, request.cookies.get(COOKIE))
            if session is not None:
                return RedirectResponse(PREFIX + "/services", status_code=303)
            return self._sign_in_form(request)
        try:
            form = codec.multidict(await _form(request))
        except TwilioError as exc:
            return self.render(request, "error.html", status=exc.status, error=exc)
        sent = form.get(CSRF_FIELD, [""])[-1]
        expected = request.cookies.get(SIGN_IN_COOKIE, "")
        if not expected or not hmac.compare_digest(sent, expected):
            return self.refused(request, None)
        username = form.get("AccountSid", [""])[-1].strip()
        password = form.get("AuthToken", [""])[-1]
        address = request.client.host if request.client else "unknown"
        wait = await sessions.wait_seconds(self.store, address, username)
        if wait:
            message = f"Too many failed sign-ins. Try again in {wait} seconds."
            return self._sign_in_form(request, message, username, status=429)
        account = await self.api.auth.account_for(username, password) if password else None
        if account is None:
            await sessions.failed(self.store, address, username)
            message = "Those credentials are not valid."
            return self._sign_in_form(request, message, username, status=401)
        await sessions.succeeded(self.store, address, username)
        credential = sids.normalise(username)  # as the Authenticator matched it
        token, session = await sessions.open_session(self.store, account, credential)
        response = RedirectResponse(PREFIX + "/services", status_code=303)
        response.set_cookie(
            COOKIE,
            token,
            max_age=sessions.SESSION_TTL // sessions.SECOND,
            path=PREFIX,
            secure=secure(request),
            httponly=True,
            samesite="lax",
        )
        response.delete_cookie(SIGN_IN_COOKIE, path=PREFIX)
        return response

    def _sign_in_form(
        self, request: Request, error: str | None = None, username: str = "", status: int = 200
    ) -> Response:
        token = secrets.token_urlsafe(32)
        response = self.render(
            request,
            "sign_in.html",
            status=status,
            sign_in_error=error,
            username=username,
            sign_in_csrf=token,
        )
        response.set_cookie(
            SIGN_IN_COOKIE,
            token,
            max_age=3600,
            path=PREFIX,
            secure=secure(request),
            httponly=True,
            samesite="lax",
        )
        return response


async def _form(request: Request) -> codec.Pairs:
    """The posted form, read with REST's body limit (a larger one is 400 / 20001)."""
    return codec.parse_form(await read_body(request.receive))


def secure(request: Request) -> bool:
    """Behind HTTPS (uvicorn applies a trusted proxy's X-Forwarded-Proto to the
    scheme), cookies are Secure."""
    return request.url.scheme == "https"


def _csrf(session: sessions.Session | None) -> str:
    return session.csrf if session is not None else ""


def page_token(url: str | None) -> str | None:
    """The PageToken of a REST paging URL (meta.next_page_url / previous_page_url)."""
    if not url:
        return None
    tokens = parse_qs(urlsplit(url).query).get("PageToken")
    return tokens[-1] if tokens else None


def field_of(api: RestApi, method: str, path: str, exc: TwilioError) -> str:
    """The form field an error is about: the parameter it names, else the one
    parameter of the operation declared with its code; "" for the whole form."""
    op, _, _ = api.router.match(method, path)
    if op is None:
        return ""
    wires = {p.wire for p in op.params}
    if exc.param in wires:
        return exc.param or ""
    owners = {p.wire for p in op.params if exc.code in (p.code, p.len_code, p.refused_code)} - {""}
    if len(owners) == 1 and exc.code != 20001:
        return owners.pop()
    return ""


def redirect(url: str, notice: str | None = None, **query: str) -> RedirectResponse:
    params = {**query, **({"notice": notice} if notice else {})}
    return RedirectResponse(url + ("?" + urlencode(params) if params else ""), status_code=303)
