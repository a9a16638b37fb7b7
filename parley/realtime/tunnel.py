"""Tunnelled HTTP: the requests Chat, Sync and Notifications send inside the
socket as ``{method, host, path, params}`` (docs/realtime-protocol.md §1-§4).

Routed by path only: the SDK names Twilio's hosts (``aim.us1.twilio.com``,
``cds.us1.twilio.com``) or whatever host Parley's own URLs carry, and Parley
serves them all (docs/realtime-protocol.md §1 "Key consequence").
"""

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from parley.errors import TwilioError, has_nul, not_found
from parley.events import Event
from parley.runtime import Runtime

if TYPE_CHECKING:
    from parley.realtime.gateway import Session


@dataclass(slots=True)
class Request:
    session: "Session"
    method: str
    path: str
    params: dict[str, str]
    body: Any
    headers: Mapping[str, Any]
    runtime: Runtime
    path_params: dict[str, str] = field(default_factory=dict)
    # the session's own Sync events of a commit, sent before the reply
    own_events: Callable[[list[Event]], Awaitable[None]] | None = None

    def form(self) -> dict[str, str]:
        """The body as fields: a JSON object, or a form-encoded text body."""
        if isinstance(self.body, dict):
            return {str(k): v for k, v in self.body.items()}
        if isinstance(self.body, str):
            return dict(parse_qsl(self.body, keep_blank_values=True))
        return {}


@dataclass(slots=True)
class Response:
    status: int
    body: Any = None


Handler = Callable[[Request], Awaitable[Response]]

_PARAM = re.compile(r"\{(\w+)\}")


class Routes:
    """``(method, "/v3/Maps/{sid}")`` -> handler; first match wins."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def add(self, method: str, template: str, handler: Handler) -> None:
        pattern = _PARAM.sub(lambda m: f"(?P<{m.group(1)}>[^/]+)", template)
        self._routes.append((method, re.compile(f"{pattern}/?"), handler))

    def route(self, method: str, template: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.add(method, template, handler)
            return handler

        return register

    def match(self, method: str, path: str) -> tuple[Handler, dict[str, str]]:
        known = False
        for verb, pattern, handler in self._routes:
            found = pattern.fullmatch(path)
            if found is None:
                continue
            if verb == method:
                values = {k: unquote(v) for k, v in found.groupdict().items()}
                if any("\x00" in v for v in values.values()):
                    break  # names nothing stored (docs/security.md, "Bad input")
                return handler, values
            known = True
        if known:
            raise TwilioError(20004)
        raise not_found(path)


def split(path: str, params: Any) -> tuple[str, dict[str, str]]:
    """The path without its query, and query + ``params`` merged (params win).
    A NUL in a parameter is 400 / 20001, as on the REST API."""
    parts = urlsplit(path)
    merged = dict(parse_qsl(parts.query, keep_blank_values=True))
    if isinstance(params, dict):
        merged.update({str(k): _text(v) for k, v in params.items()})
    for key, value in merged.items():
        if "\x00" in value:
            raise has_nul(key)
    return parts.path or "/", merged


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
