"""Form decoding, value parsing, JSON encoding and paging: Twilio's wire rules
(docs/behaviour.md §C3, §C4, §C9), each in exactly one place.
"""

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlencode

import orjson

from parley import sids, timefmt
from parley.api.table import Kind, Param, Resource, Row
from parley.errors import NUL, TwilioError, invalid, missing
from parley.webhooks import targets

Pairs = list[tuple[str, str]]
URL_MAX = 2048  # docs/behaviour.md §L3: webhook URLs, suggested
# Every integer a client sends fits the narrowest column it may land in
# (INTEGER on PostgreSQL) unless its Param says otherwise; keyset positions in
# a PageToken fit BIGINT. Beyond them the engines fail (docs/security.md, "Bad input").
INT_MAX = 2**31 - 1
POSITION_MAX = 2**63 - 1
_DIGITS = re.compile(r"[+-]?[0-9]{1,100}")  # ASCII decimal: no "1_000", no other scripts


def parse_form(raw: bytes | str) -> Pairs:
    """``application/x-www-form-urlencoded`` into ordered pairs (repeats kept)."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return parse_qsl(text, keep_blank_values=True) if text else []


def multidict(pairs: Pairs) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for key, value in pairs:
        found.setdefault(key, []).append(value)
    return found


def _value(param: Param, raw: str, allow_private: bool) -> Any:
    """One raw string to its Python value, or the param's Twilio error."""
    kind = param.kind
    if "\x00" in raw:
        # PostgreSQL text cannot hold NUL; SQLite would store it. Refused on
        # both engines, for every parameter (docs/security.md, "Bad input").
        raise _bad(param, raw, NUL)
    if kind is Kind.STR:
        value: Any = raw
    elif kind is Kind.INT:
        value = integer(raw)
        hi = INT_MAX if param.hi is None else param.hi
        if value is None or (param.lo is not None and value < param.lo) or value > hi:
            raise _bad(param, raw)
        return value
    elif kind is Kind.BOOL:
        # docs/behaviour.md §C3.1: true/false in any case, nothing else
        lowered = raw.strip().lower()
        if lowered not in ("true", "false"):
            raise _bad(param, raw)
        return lowered == "true"
    elif kind is Kind.DATE:
        try:
            return timefmt.parse_iso(raw)
        except ValueError:
            raise _bad(param, raw) from None
    elif kind is Kind.JSON:
        try:
            orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise TwilioError(50304, name=param.wire) from None
        value = raw
    elif kind is Kind.SID:
        if param.prefix is None or not sids.looks_like(param.prefix, raw):
            raise _bad(param, raw)
        return sids.normalise(raw)
    elif kind is Kind.ENUM:
        if raw not in param.choices:
            raise _bad(param, raw)
        value = raw
    elif kind is Kind.URL:
        if not raw.startswith(("http://", "https://")) or len(raw) > URL_MAX or " " in raw:
            raise _bad(param, raw)
        if not allow_private and (reason := targets.refusal(raw)):
            reason += "; private webhook targets are refused (PARLEY_ALLOW_PRIVATE_WEBHOOKS)"
            if param.refused_code is not None:
                raise TwilioError(param.refused_code, value=raw[:200], reason=reason)
            raise _bad(param, raw, reason)
        value = raw
    if param.max_len is not None and len(value) > param.max_len:
        raise TwilioError(param.len_code or param.code, name=param.wire, limit=param.max_len)
    return value


def integer(raw: str) -> int | None:
    """A decimal integer as clients send it, or None."""
    text = raw.strip()
    return int(text) if _DIGITS.fullmatch(text) else None


def _bad(param: Param, raw: str, why: str | None = None) -> TwilioError:
    if param.code == 20001:
        error = invalid(param.wire)
    else:
        error = TwilioError(param.code, name=param.wire, value=raw[:200].replace("\x00", ""))
    if why:
        error = TwilioError(error.code, message=f"{error.message}: {why}", name=param.wire)
    return error


def decode(
    params: Sequence[Param], form: dict[str, list[str]], *, allow_private_urls: bool = False
) -> dict[str, Any]:
    """Decode the declared params present in ``form`` (unknown names are ignored,
    docs/behaviour.md §C3.1). Absent params are absent from the result, which is
    what makes updates partial. An empty value is null for a nullable param and
    ignored otherwise; an empty required param is missing. URLs must be public
    webhook targets unless ``allow_private_urls`` (PARLEY_ALLOW_PRIVATE_WEBHOOKS).
    """
    values: dict[str, Any] = {}
    for param in params:
        raws = form.get(param.wire)
        if param.many:
            items = [r for r in raws or () if r != ""]
            if not items:
                if param.required:
                    raise missing(param.wire)
                if raws is not None and param.nullable:
                    values[param.name] = None
                continue
            values[param.name] = [_value(param, r, allow_private_urls) for r in items]
            continue
        raw = raws[-1] if raws else None
        if raw is None or raw == "":
            if param.required:
                raise missing(param.wire)
            if raw == "" and param.nullable:
                values[param.name] = None
            continue
        values[param.name] = _value(param, raw, allow_private_urls)
    return values


# ---------------------------------------------------------------- paging


@dataclass(frozen=True, slots=True)
class PageRequest:
    size: int
    page: int
    after: Any = None
    before: Any = None
    token: str | None = None


def page_request(resource: Resource, form: dict[str, list[str]]) -> PageRequest:
    """``PageSize`` (clamped to the max, docs/behaviour.md §C9.1), ``Page`` (echoed
    only) and ``PageToken`` (our keyset cursor)."""
    size = resource.page_size
    if raw := _last(form, "PageSize"):
        found = integer(raw)
        if found is None or found < 1:
            raise invalid("PageSize")
        size = min(found, resource.max_page_size)
    page = 0
    if raw := _last(form, "Page"):
        found = integer(raw)
        # echoed in meta.page and in every paging URL: it must stay a JSON integer
        if found is None or not 0 <= found <= INT_MAX:
            raise invalid("Page")
        page = found
    token = _last(form, "PageToken")
    after, before = cursor(token)
    return PageRequest(size, page, after, before, token or None)


def cursor(token: str | None) -> tuple[Any, Any]:
    """``(after, before)`` from a ``PageToken`` (at most one is set); a token
    Parley did not make is 20001."""
    if not token:
        return None, None
    direction, position = read_token(token)
    return (position, None) if direction == "A" else (None, position)


def window(
    rows: list[Row], size: int, backwards: bool, by_token: bool
) -> tuple[list[Row], bool, bool]:
    """A page from up to ``size + 1`` rows read in the requested direction
    (``backwards``: a ``PB`` token): ``(rows, more before, more after)``; the
    extra row only says that there is more."""
    if backwards:
        more_before = len(rows) > size
        return (rows[-size:] if more_before else rows), more_before, True
    return rows[:size], by_token, len(rows) > size


def _last(form: dict[str, list[str]], key: str) -> str | None:
    values = form.get(key)
    return values[-1] if values else None


def make_token(direction: str, position: int | str) -> str:
    """``PA…`` (after) / ``PB…`` (before), as Twilio's tokens look; the rest is
    the boundary row's keyset value, opaque to clients. The one page token of
    every surface: REST lists, the client endpoints' lists, and Sync items
    (whose maps page on a text key)."""
    raw = base64.urlsafe_b64encode(orjson.dumps(position)).rstrip(b"=").decode()
    return f"P{direction}{raw}"


def read_token(token: str, text: bool = False) -> tuple[str, Any]:
    """``(direction, position)`` of a token ``make_token`` made: a position in
    range (``text``: a key without NUL); anything else is 400 / 20001, and
    never reaches a query (docs/security.md, "Bad input")."""
    if len(token) < 3 or token[0] != "P" or token[1] not in "AB":
        raise invalid("PageToken")
    raw = token[2:]
    try:
        position = orjson.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (binascii.Error, ValueError):
        raise invalid("PageToken") from None
    if text:
        if not isinstance(position, str) or "\x00" in position:
            raise invalid("PageToken")
        return token[1], position
    if not isinstance(position, int) or isinstance(position, bool):
        raise invalid("PageToken")
    if not 0 <= position <= POSITION_MAX:
        raise invalid("PageToken")
    return token[1], position


def page_body(
    resource: Resource,
    rows: list[Row],
    request: PageRequest,
    base: str,
    path: str,
    query: Pairs,
) -> dict[str, Any]:
    """The list response: ``{<key>: [...], "meta": {...}}`` (docs/behaviour.md §C9.2).

    ``rows`` holds up to ``size + 1`` rows read in the requested direction; the
    extra row only says that there is more.
    """
    size = request.size
    backwards = request.before is not None
    rows, more_before, more_after = window(rows, size, backwards, request.token is not None)
    filters = [(k, v) for k, v in query if k not in ("PageSize", "Page", "PageToken")]
    # what every link shares, encoded once: urlencode of the filters and the
    # page size, to which each link adds its page and token as urlencode would
    prefix = f"{base}{quote(path, safe='/@+:,;=!$&()*~')}?"
    prefix += urlencode([*filters, ("PageSize", str(size))]) + "&Page="

    def link(page: int, token: str | None) -> str:
        if token:
            return f"{prefix}{page}&PageToken={quote_plus(token)}"
        return f"{prefix}{page}"

    column = resource.cursor
    next_url = prev_url = None
    if more_after and rows:
        next_url = link(request.page + 1, make_token("A", rows[-1][column]))
    if more_before and rows:
        prev_url = link(max(request.page - 1, 0), make_token("B", rows[0][column]))
    return {
        resource.key: [resource.render(row, base) for row in rows],
        "meta": {
            "page": request.page,
            "page_size": size,
            "first_page_url": link(0, None),
            "previous_page_url": prev_url,
            "url": link(request.page, request.token),
            "next_page_url": next_url,
            "key": resource.key,
        },
    }


def dumps(body: Any) -> bytes:
    return orjson.dumps(body)
