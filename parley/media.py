"""Media uploads: a Media Content Service-style endpoint (push-and-clients.md §8).

Twilio keeps media bytes in its Media Content Service (``mcs.us1.twilio.com``),
outside the Chat v2 spec; messages only attach an uploaded media by its ``ME``
SID. Parley serves the same shape under its own base URL:

::

    POST /v1/Services/{IS}/Media                 raw body, Content-Type header,
                                                 filename: Content-Disposition or ?Filename=
                                                 -> 201 media JSON
    GET  /v1/Services/{IS}/Media/{ME}            -> 200 media JSON
    GET  /v1/Services/{IS}/Media/{ME}/Content    -> 200 the bytes, with their Content-Type

Same Basic auth and error bodies as the REST API. Pure ASGI, mounted by prefix.
"""

import logging
import re
from typing import Any
from urllib.parse import parse_qsl, unquote

from parley import sids, timefmt
from parley.accounts import Authenticator
from parley.api import codec
from parley.api.http import AUTH_CHALLENGE, authenticate, read_body
from parley.domain import limits
from parley.errors import TwilioError, not_found
from parley.store import Row, Store, repo

log = logging.getLogger("parley.media")

PREFIX = "/v1/Services/"
FILENAME_MAX = 256  # not published; suggested, as for identities
_JSON = (b"content-type", b"application/json; charset=utf-8")
_DISPOSITION = re.compile(
    r"""filename\*\s*=\s*(?:UTF-8|utf-8)''(?P<ext>[^;]+)|filename\s*=\s*(?:"(?P<q>[^"]*)"|(?P<t>[^;\s]+))"""
)


def render(row: Row, base: str) -> dict[str, Any]:
    url = f"{base}/v1/Services/{row['service_sid']}/Media/{row['sid']}"
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
        "links": {"content": url + "/Content"},
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
    def __init__(self, store: Store, auth: Authenticator, base_url: str) -> None:
        self.store = store
        self.auth = auth
        self.base_url = base_url

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await send({"type": "websocket.close", "code": 1000})
            return
        extra: list[tuple[bytes, bytes]] = []
        try:
            status, body, headers = await self._handle(scope, receive)
        except TwilioError as exc:
            status, body, headers = exc.status, codec.dumps(exc.body()), [_JSON]
            if exc.code == 20003:
                extra = [AUTH_CHALLENGE]
        except Exception:
            request_id = sids.new_sid(sids.REQUEST)
            log.exception("media request %s failed: %s", request_id, scope["path"])
            error = TwilioError(20500, message=f"Internal Server Error (request {request_id})")
            status, body, headers = 500, codec.dumps(error.body()), [_JSON]
        headers = [*headers, *extra, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _handle(
        self, scope: Any, receive: Any
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        headers = dict(scope["headers"])
        account_sid = await authenticate(self.auth, headers.get(b"authorization"))
        path: str = scope["path"]
        method: str = scope["method"]
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

        if len(parts) == 4:
            query = scope.get("query_string", b"").decode("latin-1")
            async with self.store.read() as tx:
                await self._service(tx, account_sid, service_sid, path)
            content = await read_body(receive, limits.MEDIA_MAX)
            content_type = headers.get(b"content-type", b"").decode("latin-1").strip()
            row: Row = {
                "sid": sids.new_sid(sids.MEDIA),
                "account_sid": account_sid,
                "service_sid": service_sid,
                "content_type": content_type or "application/octet-stream",
                "filename": filename_of(headers, query),
                "size": len(content),
                "content": content,
                "message_sid": None,
                "date_created": timefmt.now(),
            }
            async with self.store.write() as tx:
                await self._service(tx, account_sid, service_sid, path)
                await repo.insert(tx, "media", row)
            return 201, codec.dumps(render(row, self.base_url)), [_JSON]

        media_sid = parts[4]
        async with self.store.read() as tx:
            await self._service(tx, account_sid, service_sid, path)
            found = None
            if sids.looks_like(sids.MEDIA, media_sid):
                found = await repo.get(
                    tx, "media", {"sid": sids.normalise(media_sid), "service_sid": service_sid}
                )
        if found is None:
            raise not_found(path)
        if len(parts) == 5:
            return 200, codec.dumps(render(found, self.base_url)), [_JSON]
        content_type = str(found["content_type"]).encode("latin-1", "replace")
        return 200, bytes(found["content"] or b""), [(b"content-type", content_type)]

    @staticmethod
    async def _service(tx: Any, account_sid: str, service_sid: str, path: str) -> Row:
        service = await repo.get(tx, "services", {"sid": service_sid, "account_sid": account_sid})
        if service is None:
            raise not_found(path)
        return service
