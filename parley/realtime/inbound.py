"""uvicorn's WebSocket protocol with a short way in for the frames the gateway
ignores: a client's acknowledgements of the frames it was sent.

A 1,000-client fan-out is answered by 1,000 twilsock ``reply`` frames, and
the gateway does nothing with them (gateway.py). Through the usual layers each
one cost websockets' frame parser, uvicorn's queue and its pause and resume of
reading, a wake-up of the session's task, Starlette's ``receive`` and
twilsock's parser: about as much server CPU as the fan-out itself
(bench/fanout.py). Here, where the bytes arrive, whole unfragmented binary
frames at the start of the data are unmasked and offered to ``skip`` (set by
the gateway once a session is initialised); the ones it recognises go no
further. From the first frame it does not recognise on, the data goes to
websockets as before, so every other frame, control frame, partial frame or
protocol error is seen by websockets and the application exactly as without
this class.

Frames are only taken here while websockets' parser waits at a frame boundary
(nothing buffered, not inside a fragmented message, the connection open):
websockets then never sees a frame in part. A websockets whose parser cannot
be told to be at a boundary (``_waits_for_a_frame``) gets every byte.
"""

from collections.abc import Callable

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import Protocol, State
from websockets.streams import StreamReader

try:  # websockets' C unmasking, as its own parser uses
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover
    from websockets.utils import apply_mask

SKIP_MAX = 1024  # payload bytes of a frame worth looking at here (an ack is ~100)
_PARSE = Protocol.parse.__code__
_AT_EOF = StreamReader.at_eof.__code__


def skip_frames(data: bytes, skip: Callable[[bytes], bool]) -> int:
    """How many bytes at the start of ``data`` are whole client frames (FIN,
    binary, masked, no extension bits, a payload of at most ``SKIP_MAX``
    bytes) whose unmasked payload ``skip`` recognises."""
    start = 0
    size = len(data)
    while size - start >= 6:
        if data[start] != 0x82:  # FIN + binary, RSV bits clear
            break
        second = data[start + 1]
        if not second & 0x80:  # a client's frame must be masked (websockets refuses it)
            break
        length = second & 0x7F
        head = start + 2
        if length == 126:
            if size - head < 2:
                break
            length = (data[head] << 8) | data[head + 1]
            head += 2
        elif length == 127:
            break
        if length > SKIP_MAX:
            break
        end = head + 4 + length
        if end > size:
            break
        if not skip(apply_mask(data[head + 4 : end], data[head : head + 4])):
            break
        start = end
    return start


class TwilsockProtocol(WebSocketsSansIOProtocol):
    """``WebSocketsSansIOProtocol``; frames ``skip`` recognises are dropped
    where they arrive (server.py runs Parley's WebSockets on it)."""

    skip: Callable[[bytes], bool] | None = None

    def data_received(self, data: bytes) -> None:
        skip = self.skip
        if skip is not None and self._waits_for_a_frame():
            taken = skip_frames(data, skip)
            if taken == len(data):
                return
            if taken:
                data = data[taken:]
        super().data_received(data)

    def _waits_for_a_frame(self) -> bool:
        conn = self.conn
        if (
            self.close_sent
            or self.frames
            or conn.state is not State.OPEN
            or conn.current_size is not None
            or conn.reader.buffer
        ):
            return False
        # ServerProtocol.parse -> Protocol.parse -> StreamReader.at_eof: the
        # frame loop waits for the first byte of the next frame
        inner = getattr(conn.parser, "gi_yieldfrom", None)
        if inner is None or inner.gi_code is not _PARSE:
            return False
        waiting = getattr(inner, "gi_yieldfrom", None)
        return waiting is not None and waiting.gi_code is _AT_EOF
