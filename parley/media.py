"""Media uploads: a Media Content Service-style endpoint (docs/behaviour.md §P8).

Twilio keeps media bytes in its Media Content Service (``mcs.us1.twilio.com``),
outside the Chat v2 spec; messages only attach an uploaded media by its ``ME``
SID. Parley serves the same shape under its own base URL:

::

    POST /v1/Services/{IS}/Media                 raw body, Content-Type header,
                                                 filename: Content-Disposition or ?Filename=
                                                 -> 201 media JSON
    GET  /v1/Services/{IS}/Media/{ME}            -> 200 media JSON
    GET  /v1/Services/{IS}/Media/{ME}/Content    -> 200 the bytes, with their Content-Type

Clients authenticate like the REST API (Basic: Account SID and Auth Token)
or like the SDK's MCS client (``@twilio/mcs-client`` ``network.ts``): an access
token in ``X-Twilio-Token``, validated as the real-time gateway does
(``realtime/tokens.py``); its chat grant's service must be the path's
(else 403 / 20403). The SDK reaches this endpoint through the
``links.media_service`` of its configuration (``…/v1/Services/{IS}/Media``,
the URL it POSTs to and appends ``/{ME}`` to) and, in a browser, with an
XHR from another origin: every answer carries CORS headers and ``OPTIONS``
preflights are answered (no cookies are involved, so ``*`` is allowed).

An upload is the raw body with its ``Content-Type`` (``sendMessage({contentType,
media})``), or ``multipart/form-data`` (``sendMessage(formData)`` in a browser:
the first file part, with its own content type and filename, is the media).
Media JSON carries ``links.content_direct_temporary``: the content URL signed
for ``DIRECT_TTL`` seconds, readable without credentials, as the SDK's
``Media.getContentTemporaryUrl()`` expects.

Uploads are written to storage as they arrive and served back the same way
(``domain/media.py``): a 150 MB upload never sits in memory, and the SQLite
writer is held one chunk at a time. Uploads not attached to a message count
against the account's quota until they are, and expire (docs/security.md,
"Media limits"). Content answers carry the headers of docs/security.md "Media".

Same error bodies as the REST API. Pure ASGI, mounted by prefix.
"""

import asyncio
import contextlib
import hashlib
import hmac
import logging
import re
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

from parley import accounts, formdata, sids, timefmt
from parley.accounts import Authenticator
from parley.api import codec
from parley.api.http import authenticate
from parley.config import Settings
from parley.domain import limits, services
from parley.domain import media as media_store
from parley.errors import TwilioError, has_nul, not_found
from parley.metrics import ParleyMetrics
from parley.realtime import tokens
from parley.store import Row, Store, Tx

log = logging.getLogger("parley.media")

PREFIX = "/v1/Services/"
FILENAME_MAX = 256  # not published; suggested, as for identities
FORM_OVERHEAD = 1024 * 1024  # bytes a form may add around its file (headers, boundaries)
Body = bytes | AsyncIterator[bytes]
_JSON = (b"content-type", b"application/json; charset=utf-8")
_NOSNIFF = (b"x-content-type-options", b"nosniff")
DIRECT_TTL = 300  # seconds a content_direct_temporary URL works (Parley's choice)
# CORS for the SDK's XHR from a browser page (docs/realtime-protocol.md §1: "Parley needs
# CORS there"); credentials travel in headers, never cookies, so "*" is enough.
CORS: list[tuple[bytes, bytes]] = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-expose-headers", b"content-type, content-length"),
]
PREFLIGHT: list[tuple[bytes, bytes]] = [
    (b"access-control-allow-methods", b"GET, POST, OPTIONS"),
    (b"access-control-allow-headers", b"x-twilio-token, content-type, authorization"),
    (b"access-control-max-age", b"600"),
]
_DISPOSITION = re.compile(
    r"""filename\*\s*=\s*(?:UTF-8|utf-8)''(?P<ext>[^;]+)|filename\s*=\s*(?:"(?P<q>[^"]*)"|(?P<t>[^;\s]+))"""
)


def signature(secret: str, media_sid: str, expires: int) -> str:
    message = f"{media_sid}:{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def render(row: media_store.MediaRow, base: str, secret: str | None = None) -> dict[str, Any]:
    """Media JSON; with the account's secret (its auth token), the content URL
    signed for ``DIRECT_TTL`` seconds as ``links.content_direct_temporary``."""
    url = f"{base}/v1/Services/{row['service_sid']}/Media/{row['sid']}"
    links = {"content": url + "/Content"}
    if secret is not None:
        expires = int(time.time()) + DIRECT_TTL
        sig = signature(secret, row["sid"], expires)
        links["content_direct_temporary"] = f"{url}/Content?Expires={expires}&Signature={sig}"
    return {
        "sid": row["sid"],
        "account_sid": row["account_sid"],
        "service_sid": row["service_sid"],
        "message_sid": row["message_sid"],
        "content_type": row["content_type"],
        "filename": row["filename"],
        "size": row["size"],
        "date_created": timefmt.to_twilio(row["date_created"]),
        "url": url,
        "links": links,
    }


def filename_of(headers: dict[bytes, bytes], query: str) -> str | None:
    """``?Filename=`` wins over ``Content-Disposition`` (RFC 6266 ``filename*``
    or ``filename``)."""
    for key, value in parse_qsl(query, keep_blank_values=False):
        if key == "Filename":
            return value[:FILENAME_MAX]
    disposition = headers.get(b"content-disposition", b"").decode("latin-1")
    match = _DISPOSITION.search(disposition)
    if match is None:
        return None
    if match.group("ext"):
        return unquote(match.group("ext").strip())[:FILENAME_MAX]
    return (match.group("q") or match.group("t") or "")[:FILENAME_MAX] or None


class MediaApi:
    def __init__(
        self,
        store: Store,
        auth: Authenticator,
        settings: Settings,
        metrics: ParleyMetrics | None = None,
    ) -> None:
        self.store = store
        self.auth = auth
        self.base_url = settings.base_url
        self.quota = settings.media_unattached_quota
        self.metrics = metrics

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await send({"type": "websocket.close", "code": 1000})
            return
        started = time.perf_counter()
        extra: list[tuple[bytes, bytes]] = []
        body: Body
        try:
            status, body, headers = await self._handle(scope, receive)
        except TwilioError as exc:
            status, body, headers = exc.status, codec.dumps(exc.body()), [_JSON]
            extra = exc.headers()
        except Exception:
            request_id = sids.new_sid(sids.REQUEST)
            log.exception("media request %s failed: %s", request_id, scope["path"])
            error = TwilioError(20500, message=f"Internal Server Error (request {request_id})")
            status, body, headers = 500, codec.dumps(error.body()), [_JSON]
        headers = [*headers, *extra, *CORS, _NOSNIFF]
        if isinstance(body, bytes):
            headers.append((b"content-length", str(len(body)).encode()))
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
        else:  # content, chunk by chunk (its length is among the headers)
            await send({"type": "http.response.start", "status": status, "headers": headers})
            async for chunk in body:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        if self.metrics is not None:
            route = _route(scope["path"])
            self.metrics.http(route, scope["method"], status, time.perf_counter() - started)

    async def _handle(
        self, scope: Any, receive: Any
    ) -> tuple[int, Body, list[tuple[bytes, bytes]]]:
        headers = dict(scope["headers"])
        path: str = scope["path"]
        method: str = scope["method"]
        if method == "OPTIONS":  # a browser's CORS preflight carries no credentials
            return 204, b"", PREFLIGHT
        parts = path.split("/")[1:]  # v1, Services, IS…, Media[, ME…[, Content]]
        if len(parts) not in (4, 5, 6) or parts[:2] != ["v1", "Services"] or parts[3] != "Media":
            raise not_found(path)
        if not sids.looks_like(sids.SERVICE, parts[2]):
            raise not_found(path)
        service_sid = sids.normalise(parts[2])
        if len(parts) == 6 and parts[5] != "Content":
            raise not_found(path)
        allowed = "POST" if len(parts) == 4 else "GET"
        if method != allowed:
            raise TwilioError(20004)
        query = scope.get("query_string", b"").decode("latin-1")
        params = dict(parse_qsl(query))
        if len(parts) == 6 and "Signature" in params:
            return await self._direct(path, service_sid, parts[4], params)
        account_sid, sdk = await self._caller(headers, service_sid)

        if len(parts) == 4:
            row = await self._upload(headers, query, receive, account_sid, service_sid, path)
            async with self.store.read() as tx:
                secret = await self._secret(tx, account_sid) if sdk else None
            return 201, codec.dumps(render(row, self.base_url, secret)), [_JSON]

        media_sid = parts[4]
        async with self.store.read() as tx:
            await self._service(tx, account_sid, service_sid, path)
            found = await self._media(tx, service_sid, media_sid)
            secret = await self._secret(tx, account_sid) if sdk else None
        if found is None:
            raise not_found(path)
        if len(parts) == 5:
            return 200, codec.dumps(render(found, self.base_url, secret)), [_JSON]
        return 200, *self._content(found)

    async def _upload(
        self,
        headers: dict[bytes, bytes],
        query: str,
        receive: Any,
        account_sid: str,
        service_sid: str,
        path: str,
    ) -> Row:
        """Stream the body into storage, then commit the media row."""
        content_type = headers.get(b"content-type", b"").decode("latin-1").strip()
        filename = _no_nul(filename_of(headers, query))
        form = content_type.lower().startswith("multipart/form-data")
        limit = limits.MEDIA_MAX + (FORM_OVERHEAD if form else 0)
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise _too_large()  # before reading a byte of it
        async with self.store.read() as tx:
            await self._service(tx, account_sid, service_sid, path)
            count, used = await media_store.unattached(tx, account_sid)
        if count >= media_store.UNATTACHED_COUNT_MAX:
            raise self._over_quota(f"{media_store.UNATTACHED_COUNT_MAX} uploads")
        writer = media_store.Writer(self.store, account_sid, service_sid)
        try:
            received = _body(receive, limit)
            if form:
                content_type, filename = await _form_file(received, content_type, filename, writer)
            else:
                async for chunk in received:
                    await writer.write(chunk)
                    self._check(writer, used)
            self._check(writer, used)
            filename = _no_nul(filename)  # a form part's own name
            await writer.end()
            async with self.store.write() as tx:
                await self._service(tx, account_sid, service_sid, path)
                return await writer.finish(tx, content_type or "application/octet-stream", filename)
        except BaseException:
            with contextlib.suppress(Exception):
                await asyncio.shield(writer.discard())
            raise

    def _check(self, writer: media_store.Writer, used: int) -> None:
        if writer.size > limits.MEDIA_MAX:
            raise _too_large()
        if used + writer.size > self.quota:
            raise self._over_quota(f"{self.quota} bytes")

    @staticmethod
    def _over_quota(what: str) -> TwilioError:
        return TwilioError(
            20403,
            message=f"Forbidden: the account's uploads not attached to a message reach"
            f" {what}; attach them to messages, or wait until they expire",
        )

    def _content(
        self, found: media_store.MediaRow
    ) -> tuple[AsyncIterator[bytes], list[tuple[bytes, bytes]]]:
        headers = content_headers(str(found["content_type"]), found["filename"])
        headers.append((b"content-length", str(int(found["size"])).encode()))
        return media_store.chunks(self.store, found), headers

    async def _caller(self, headers: dict[bytes, bytes], service_sid: str) -> tuple[str, bool]:
        """(account SID, whether an access token authenticated the request)."""
        token = headers.get(b"x-twilio-token")
        if token is None:
            return await authenticate(self.auth, headers.get(b"authorization")), False
        async with self.store.read() as tx:
            grant = await tokens.validate(tx, token.decode("latin-1"))
        if grant.service_sid != service_sid:
            raise TwilioError(20403, message="The access token is for another service")
        return grant.account_sid, True

    async def _direct(
        self, path: str, service_sid: str, media_sid: str, params: dict[str, str]
    ) -> tuple[int, Body, list[tuple[bytes, bytes]]]:
        """The content through a signed ``content_direct_temporary`` URL."""
        async with self.store.read() as tx:
            found = await self._media(tx, service_sid, media_sid)
            secret = await self._secret(tx, found["account_sid"]) if found else None
        if found is None or secret is None:
            raise not_found(path)
        try:
            expires = int(params.get("Expires", ""))
        except ValueError:
            expires = 0
        expected = signature(secret, found["sid"], expires)
        if expires < time.time() or not hmac.compare_digest(expected, params["Signature"]):
            raise TwilioError(20403, message="The content URL is invalid or has expired")
        return 200, *self._content(found)

    @staticmethod
    async def _media(tx: Tx, service_sid: str, media_sid: str) -> media_store.Media | None:
        if not sids.looks_like(sids.MEDIA, media_sid):
            return None
        return await media_store.of_service(tx, service_sid, sids.normalise(media_sid))

    @staticmethod
    async def _secret(tx: Tx, account_sid: str) -> str | None:
        """What signs direct content URLs: the account's auth token (rotating
        it ends every URL signed with it)."""
        account = await accounts.account(tx, account_sid)
        return None if account is None else str(account["auth_token"])

    @staticmethod
    async def _service(tx: Any, account_sid: str, service_sid: str, path: str) -> services.Service:
        service = await services.by_sid(tx, service_sid, account_sid)
        if service is None:
            raise not_found(path)
        return service


# Uploaded bytes are the tenant's, served from Parley's own origin (the API's,
# the console's): only types a browser renders without running anything are
# shown inline; everything else (text/html, SVG, XML, PDF, ...) is a download.
# Every answer forbids sniffing and, were it rendered anyway, scripts, plugins,
# frames and requests (docs/security.md, "Media").
INLINE_TYPES = frozenset(
    {
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "image/avif",
        "image/bmp",
        "audio/mpeg",
        "audio/mp4",
        "audio/aac",
        "audio/ogg",
        "audio/wav",
        "audio/webm",
        "video/mp4",
        "video/webm",
        "video/ogg",
    }
)
CONTENT_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", b"default-src 'none'; sandbox; frame-ancestors 'none'"),
    (b"cross-origin-resource-policy", b"cross-origin"),
    (b"cache-control", b"private, no-store"),
]


def content_headers(content_type: str, filename: str | None) -> list[tuple[bytes, bytes]]:
    """The headers of a media content response (see INLINE_TYPES)."""
    kind = content_type.split(";", 1)[0].strip().lower()
    disposition = "inline" if kind in INLINE_TYPES else "attachment"
    if filename:
        ascii_name = "".join(
            c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename
        )
        disposition += f"; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"
    return [
        (b"content-type", content_type.encode("latin-1", "replace")),
        (b"content-disposition", disposition.encode("ascii")),
        *CONTENT_HEADERS,
    ]


def _route(path: str) -> str:
    """The path template of a media request, for metrics."""
    depth = path.count("/")
    if depth <= 4:
        return "/v1/Services/{ServiceSid}/Media"
    if depth == 5:
        return "/v1/Services/{ServiceSid}/Media/{Sid}"
    return "/v1/Services/{ServiceSid}/Media/{Sid}/Content"


def _no_nul(filename: str | None) -> str | None:
    """A file name PostgreSQL can store (docs/security.md, "Bad input")."""
    if filename is not None and "\x00" in filename:
        raise has_nul("Filename")
    return filename


def _too_large() -> TwilioError:
    return TwilioError(20001, message=f"Media larger than {limits.MEDIA_MAX} bytes")


async def _body(receive: Any, limit: int) -> AsyncIterator[bytes]:
    """The request body as it arrives; more than ``limit`` bytes is refused."""
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise TwilioError(20001, message="The upload was interrupted")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large()
        if chunk:
            yield chunk
        if not message.get("more_body"):
            return


async def _form_file(
    received: AsyncIterator[bytes],
    content_type: str,
    filename: str | None,
    writer: media_store.Writer,
) -> tuple[str, str | None]:
    """Stream the file of a ``multipart/form-data`` upload (the SDK's FormData)
    into ``writer``: the first part with a filename, else the first part.
    ``?Filename=`` still wins. Returns the part's content type and filename."""
    boundary = formdata.boundary_of(content_type)
    if boundary is None:
        raise TwilioError(20001, message="The multipart upload has no boundary")
    parser = formdata.Parser(boundary)
    chosen: tuple[str, str | None] | None = None
    named = False  # the chosen part has a filename: no later part replaces it
    writing = False
    try:
        async for chunk in received:
            for item in parser.feed(chunk):
                if isinstance(item, formdata.Part):
                    name = _disposition_filename(item.headers.get("content-disposition", ""))
                    writing = chosen is None or (not named and name is not None)
                    if writing:
                        if chosen is not None:
                            await writer.reset()  # a later part is the file after all
                        kind = item.headers.get("content-type", "text/plain")
                        chosen, named = (kind.split(";")[0].strip().lower(), name), name is not None
                elif writing:
                    await writer.write(item)
                    if writer.size > limits.MEDIA_MAX:
                        raise _too_large()
    except formdata.FormError as exc:
        raise TwilioError(20001, message=f"Unreadable multipart upload: {exc}") from None
    if chosen is None or not parser.done:
        raise TwilioError(20001, message="The multipart upload holds no file")
    kind, name = chosen
    name = filename or name
    return kind, name[:FILENAME_MAX] if name else None


def _disposition_filename(disposition: str) -> str | None:
    match = _DISPOSITION.search(disposition)
    if match is None:
        return None
    if match.group("ext"):
        return unquote(match.group("ext").strip())
    return match.group("q") or match.group("t") or None


class Janitor:
    """Deletes uploads never attached to a message once they are older than
    PARLEY_MEDIA_UNATTACHED_TTL (docs/security.md, "Media limits")."""

    def __init__(self, store: Store, ttl: float) -> None:
        self.store = store
        self.ttl = ttl
        self.every = max(1.0, min(ttl / 4, 600.0))
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="parley-media-janitor")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            try:
                batch = media_store.EXPIRE_BATCH
                while await media_store.expire(self.store, self.ttl, batch) == batch:
                    await asyncio.sleep(0)
            except Exception:
                log.exception("expiring unattached media failed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
