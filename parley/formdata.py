"""``multipart/form-data`` read as it arrives (RFC 7578), for media uploads.

The SDK's ``sendMessage(formData)`` posts the file as one part of a form. The
whole body is never held: ``Parser.feed`` takes each received chunk and
returns what it completed, headers of a part or a piece of its data, keeping
back only what might be the start of the next boundary::

    Part(headers)   a part starts (its headers, lower-cased names)
    bytes           a piece of the current part's data
    (end)           ``done`` is True once the closing boundary was read
"""

from dataclasses import dataclass

HEADERS_MAX = 16 * 1024  # bytes of one part's headers


class FormError(ValueError):
    """The body is not the multipart form its Content-Type announced."""


@dataclass(frozen=True, slots=True)
class Part:
    headers: dict[str, str]


def boundary_of(content_type: str) -> bytes | None:
    """The ``boundary`` parameter of a multipart Content-Type."""
    for param in content_type.split(";")[1:]:
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "boundary":
            value = value.strip().strip('"')
            if 0 < len(value) <= 200:
                return value.encode("latin-1")
    return None


class Parser:
    def __init__(self, boundary: bytes) -> None:
        self._delimiter = b"\r\n--" + boundary
        # a CRLF first, so the opening boundary looks like every other one
        self._buffer = bytearray(b"\r\n")
        self._state = "preamble"
        self.done = False

    def feed(self, data: bytes) -> list[Part | bytes]:
        self._buffer += data
        out: list[Part | bytes] = []
        while True:
            if self._state in ("preamble", "body"):
                at = self._buffer.find(self._delimiter)
                if at < 0:
                    # keep what could begin a delimiter split across chunks
                    keep = len(self._delimiter) - 1
                    if self._state == "body" and len(self._buffer) > keep:
                        out.append(bytes(self._buffer[:-keep]))
                        del self._buffer[:-keep]
                    elif self._state == "preamble" and len(self._buffer) > keep:
                        del self._buffer[:-keep]
                    return out
                if self._state == "body" and at:
                    out.append(bytes(self._buffer[:at]))
                del self._buffer[: at + len(self._delimiter)]
                self._state = "after"
            elif self._state == "after":
                if len(self._buffer) < 2:
                    return out
                if self._buffer[:2] == b"--":
                    self._state, self.done = "epilogue", True
                    self._buffer.clear()
                    return out
                end = self._buffer.find(b"\r\n")
                if end < 0:
                    if len(self._buffer) > 1024:
                        raise FormError("a boundary line does not end")
                    return out
                del self._buffer[: end + 2]  # transport padding, then CRLF
                self._state = "headers"
            elif self._state == "headers":
                if self._buffer[:2] == b"\r\n":  # a part without headers
                    out.append(Part({}))
                    del self._buffer[:2]
                    self._state = "body"
                    continue
                end = self._buffer.find(b"\r\n\r\n")
                if end < 0:
                    if len(self._buffer) > HEADERS_MAX:
                        raise FormError("a part's headers are too long")
                    return out
                out.append(Part(_headers(bytes(self._buffer[:end]))))
                del self._buffer[: end + 4]
                self._state = "body"
            else:  # epilogue: ignored
                self._buffer.clear()
                return out


def _headers(block: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in block.decode("utf-8", "replace").split("\r\n"):
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return headers
