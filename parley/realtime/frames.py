"""Twilsock V3.0 framing (docs/realtime-protocol.md §3-§4; twilsock@0.12.2 ``src/parser.ts``).

One binary WebSocket message per frame::

    TWILSOCK V3.0 <header bytes>\r\n<header JSON>\r\n<payload>

``header.payload_size`` is the payload's UTF-8 byte count. The payload is JSON
unless ``payload_type`` says ``text/plain`` (or any non-JSON type, such as the
form body of the typing request, which the gateway keeps as text).
"""

from dataclasses import dataclass
from typing import Any

import orjson

MAGIC = b"TWILSOCK V3.0 "
HEADER_MAX = 64 * 1024
PAYLOAD_MAX = 4 * 1024 * 1024


class FrameError(ValueError):
    """The bytes are not a twilsock frame (the gateway closes with 406)."""


@dataclass(slots=True)
class Frame:
    header: dict[str, Any]
    payload: Any = None  # parsed JSON, text, or None when payload_size is 0

    @property
    def method(self) -> str:
        return str(self.header.get("method"))

    @property
    def id(self) -> str | None:
        value = self.header.get("id")
        return value if isinstance(value, str) else None


def parse(data: bytes) -> Frame:
    if not data.startswith(MAGIC):
        raise FrameError("not a TWILSOCK V3.0 frame")
    end = data.find(b"\r\n", len(MAGIC))
    if end < 0:
        raise FrameError("no end of the magic line")
    size_text = data[len(MAGIC) : end]
    if not size_text.isdigit():
        raise FrameError("bad header size")
    size = int(size_text)
    if size > HEADER_MAX:
        raise FrameError("header too large")
    start = end + 2
    if len(data) < start + size:
        raise FrameError("truncated header")
    try:
        header = orjson.loads(data[start : start + size])
    except orjson.JSONDecodeError:
        raise FrameError("header is not JSON") from None
    if not isinstance(header, dict) or not isinstance(header.get("method"), str):
        raise FrameError("header without a method")
    payload_size = header.get("payload_size", 0)
    if isinstance(payload_size, bool) or not isinstance(payload_size, int) or payload_size < 0:
        raise FrameError("bad payload_size")
    if payload_size == 0:
        return Frame(header)
    if payload_size > PAYLOAD_MAX:
        raise FrameError("payload too large")
    body_start = start + size
    if data[body_start : body_start + 2] != b"\r\n":
        raise FrameError("no separator before the payload")
    body = data[body_start + 2 : body_start + 2 + payload_size]
    if len(body) != payload_size:
        raise FrameError("truncated payload")
    kind = str(header.get("payload_type") or "application/json")
    try:
        if kind.startswith("application/json"):
            return Frame(header, orjson.loads(body))
        return Frame(header, body.decode("utf-8"))
    except (orjson.JSONDecodeError, UnicodeDecodeError):
        raise FrameError("payload does not match its payload_type") from None


def is_reply(data: bytes) -> bool:
    """Whether ``data`` is a well-formed ``reply`` frame: a client's ack, which
    the gateway ignores (inbound.py drops these where they arrive)."""
    if b'"reply"' not in data:
        return False
    try:
        return parse(data).method == "reply"
    except FrameError:
        return False


def encode(header: dict[str, Any], payload: Any = None) -> bytes:
    """A frame; ``payload`` (JSON-able, or bytes already encoded) is optional."""
    if payload is None:
        body = b""
    elif isinstance(payload, bytes):
        body = payload
    else:
        body = orjson.dumps(payload)
    head = dict(header)
    head["payload_size"] = len(body)
    if body and "payload_type" not in head:
        head["payload_type"] = "application/json"
    head_bytes = orjson.dumps(head)
    return b"%s%d\r\n%s\r\n%s" % (MAGIC, len(head_bytes), head_bytes, body)
