"""The twilsock gateway at ``GET /v3/wsconnect`` (docs/realtime-protocol.md §1-§4).

::

    socket open ──> init {token}            -> reply 200 | reply 401, socket closed
      │               (tokens.validate; the user is created on first connection)
      ├─ message {http_request} + body      -> reply {status 200, http_status, body}
      │               (tunnel.Routes: routed by path, whatever the host)
      ├─ update {token}                     -> reply 200 | reply 401
      ├─ put/delete_notification_ctx        -> reply 200
      ├─ reply (ack of our frames)          -> nothing
      ├─ close                              -> socket closed
      └─ not a frame                        -> close 406, socket closed
    server side: notification (events), client_update token_about_to_expire,
                 ping (keepalive; the client acks it), close 410 at token expiry,
                 close 308 offload at shutdown.

One task reads the socket and serves requests in the order they arrive. Writes
never wait for the socket: a frame is written at once while the socket keeps
up, and behind a slow one it waits in a bounded queue that the session's writer
task empties; a session whose queue overflows (its client stopped reading) is
dropped, and its SDK reconnects and replays. Fan-out to many sessions therefore
never waits for a slow one. A socket must ``init`` within
``init_timeout``; sockets per token and per account, and each socket's
notification contexts, are bounded (docs/security.md, "Real-time connections").
"""

import asyncio
import collections
import contextlib
import hashlib
import itertools
import logging
import secrets
import struct
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from http import HTTPStatus
from typing import Any, cast

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import State

from parley.domain import services, users
from parley.errors import TwilioError
from parley.events import Event, Origin
from parley.realtime import frames, tokens
from parley.realtime.inbound import TwilsockProtocol
from parley.realtime.tunnel import Request, Response, Routes, split
from parley.runtime import Runtime
from parley.store import Row, StoreUnavailable, Tx

log = logging.getLogger("parley.realtime")

PATH = "/v3/wsconnect"
CAPABILITIES = frozenset({"client_update", "offline_storage"})  # telemetry.v1 is not confirmed


def _status(code: int) -> dict[str, Any]:
    try:
        phrase = HTTPStatus(code).phrase
    except ValueError:
        phrase = "Unknown"
    return {"code": code, "status": phrase}


def _peer(session: "Session") -> str:
    client = session.websocket.client
    return f"{client.host}:{client.port}" if client else "unknown"


_ID_PREFIX = secrets.token_hex(8)  # this process's; the counter makes each id unique
_ID_COUNTER = itertools.count()


def new_id() -> str:
    """A frame id (``TM`` + 32 hex, as twilsock's). A uuid4 per notification
    was a tenth of the server's CPU in a 1,000-client fan-out (bench/fanout.py)."""
    return f"TM{_ID_PREFIX}{next(_ID_COUNTER):016x}"


def notification(message_type: str, payload: Any) -> bytes:
    """An encoded ``notification`` frame. Its id only has to be unique on each
    connection, so one encoding can serve every subscriber of a live event."""
    header = {
        "method": "notification",
        "id": new_id(),
        "message_type": message_type,
        "notification_ctx_id": "",
    }
    return frames.encode(header, payload)


def binary_message(data: bytes) -> bytes:
    """``data`` as a server's WebSocket binary message: one unmasked final
    frame, no extension (RFC 6455 §5.2). Built once per encoded frame, the same
    bytes are written on every socket that is sent it (Session.send_frame)."""
    size = len(data)
    if size < 126:
        head = struct.pack("!BB", 0x82, size)
    elif size < 1 << 16:
        head = struct.pack("!BBH", 0x82, 126, size)
    else:
        head = struct.pack("!BBQ", 0x82, 127, size)
    return head + data


# A socket's transport (uvicorn's, behind ``receive``): how full its write
# buffer is, and how to cut it
Transport = Any
DIRECT_WRITE_MAX = 16 * 1024  # write at once while the transport buffers less


class _Outbox:
    """The frames a session could not write at once, for its writer task;
    made the first time a frame has to wait (most sessions never need one)."""

    __slots__ = ("drained", "frames", "room", "size", "wake")

    def __init__(self) -> None:
        self.frames: collections.deque[bytes] = collections.deque()
        self.size = 0  # bytes queued
        self.wake = asyncio.Event()
        self.drained = asyncio.Event()  # nothing queued or being written
        self.drained.set()
        self.room = asyncio.Event()  # at most half full
        self.room.set()

    def clear(self) -> None:
        self.frames.clear()
        self.size = 0
        self.drained.set()
        self.room.set()


class Session:
    """One connected client: its grant, user and the frames it is sent."""

    def __init__(
        self,
        gateway: "Gateway",
        websocket: WebSocket,
        transport: Transport | None = None,
        protocol: WebSocketsSansIOProtocol | None = None,
    ) -> None:
        self.gateway = gateway
        self.websocket = websocket
        self.grant: tokens.Grant | None = None
        # (token key, account) this socket counts against (Gateway._over_limit)
        self.counted: tuple[str, str] | None = None
        self.service: services.Service | None = None
        self.user: users.UserRow | None = None
        self.message_types: set[str] = set()
        self.contexts: dict[str, Any] = {}
        self.closed = False
        self._timers: list[asyncio.Task[None]] = []
        # per-layer state attached by subsystems (e.g. Sync subscriptions)
        self.extensions: dict[str, Any] = {}
        self._transport = transport
        # uvicorn's protocol of this socket when frames may be written on its
        # transport directly (_direct_protocol)
        self._protocol = protocol
        self._sending = False  # a write is in progress
        self._outbox: _Outbox | None = None
        self._writer: asyncio.Task[None] | None = None

    @property
    def identity(self) -> str:
        assert self.grant is not None
        return self.grant.identity

    async def send(self, header: dict[str, Any], payload: Any = None) -> None:
        await self.send_frame(frames.encode(header, payload))

    async def send_frame(self, data: bytes, message: bytes | None = None) -> None:
        """Send an encoded frame (the same bytes may go to many sessions) without
        waiting for the socket: written at once while the socket keeps up (no
        task switch: a fan-out to a thousand sessions costs a thousand writes),
        else queued for the session's writer task. A queue over its bounds
        drops the session. ``message``: ``binary_message(data)``, when the
        caller has it (built once for every subscriber of a live event)."""
        if self.write_now(data, message):
            return
        outbox = self._outbox
        if not (outbox and outbox.frames) and self._writable_now():
            self._sending = True  # the transport is not paused: this does not wait
            try:
                await self.websocket.send_bytes(data)
            except (RuntimeError, OSError, WebSocketDisconnect):
                self.closed = True
            finally:
                self._sending = False
            return
        if outbox is None:
            outbox = self._outbox = _Outbox()
            self._writer = asyncio.create_task(self._write(outbox), name="twilsock-writer")
        outbox.frames.append(data)
        outbox.size += len(data)
        outbox.drained.clear()
        gateway = self.gateway
        if len(outbox.frames) > gateway.send_queue_frames or (
            outbox.size > gateway.send_queue_bytes
        ):
            self.drop("its send queue is full: the client stopped reading")
            return
        if len(outbox.frames) > gateway.send_queue_frames // 2:
            outbox.room.clear()
        outbox.wake.set()

    def write_now(self, data: bytes, message: bytes | None = None) -> bool:
        """Write the frame on the transport directly if it can go at once
        (nothing queued, the socket keeps up, uvicorn's protocol is known): the
        WebSocket message uvicorn's send would write, without its and
        Starlette's layers per socket. False: it was not written (send_frame
        queues it). A closed session takes it and writes nothing."""
        if self.closed:
            return True
        protocol = self._protocol
        outbox = self._outbox
        if protocol is None or (outbox and outbox.frames) or not self._writable_now():
            return False
        if protocol.close_sent or protocol.disconnected or protocol.conn.state is not State.OPEN:
            self.closed = True
        else:
            protocol.transport.write(message or binary_message(data))
        return True

    async def room(self) -> None:
        """Wait until the send queue is at most half full: for a session's own
        long work (a replay), never for fan-out."""
        outbox = self._outbox
        while outbox is not None and not outbox.room.is_set() and not self.closed:
            await outbox.room.wait()

    async def flush(self, timeout: float) -> bool:
        """Wait until every queued frame is written; False on timeout."""
        if self._outbox is None:
            return True
        try:
            async with asyncio.timeout(timeout):
                await self._outbox.drained.wait()
        except TimeoutError:
            return False
        return True

    def _writable_now(self) -> bool:
        transport = self._transport
        return (
            transport is not None
            and not self._sending
            and transport.get_write_buffer_size() < DIRECT_WRITE_MAX
        )

    async def _write(self, outbox: _Outbox) -> None:
        websocket = self.websocket
        queue = outbox.frames
        while True:
            if not queue:
                outbox.drained.set()
                outbox.wake.clear()
                await outbox.wake.wait()
                continue
            if self._sending:  # a write at once is in progress: let it finish first
                await asyncio.sleep(0)
                continue
            data = queue.popleft()
            outbox.size -= len(data)
            if not outbox.room.is_set() and len(queue) <= self.gateway.send_queue_frames // 2:
                outbox.room.set()
            self._sending = True
            try:
                await websocket.send_bytes(data)
            except (RuntimeError, OSError, WebSocketDisconnect):
                self.closed = True
                outbox.clear()
                return
            finally:
                self._sending = False

    def _release(self) -> None:
        if self._outbox is not None:
            self._outbox.clear()

    def drop(self, reason: str, kind: str = "send_queue") -> None:
        """End the session now, without a goodbye: a client that does not read
        would never receive one. The SDK reconnects and replays what it missed."""
        if self.closed:
            return
        self.gateway.dropped[kind] += 1
        log.warning(
            "twilsock session %s dropped: %s",
            self.grant.identity if self.grant else "(before init)",
            reason,
        )
        self.closed = True
        self.cancel_timers()
        self._stop_writer()
        self._release()
        self._cut()  # the reading task sees the disconnect and cleans up

    async def notify(self, message_type: str, payload: Any) -> None:
        await self.send_frame(notification(message_type, payload))

    async def close(self, code: int, description: str | None = None, body: Any = None) -> None:
        """A twilsock ``close`` frame with ``status.code``, then the socket closes."""
        if self.closed:
            return
        await self.say_close(code, description, body)
        await self.hang_up()

    async def say_close(self, code: int, description: str | None = None, body: Any = None) -> None:
        """The twilsock ``close`` frame alone (the socket stays open)."""
        status = _status(code)
        if description:
            status["description"] = description
        await self.send({"method": "close", "id": new_id(), "status": status}, body)

    async def hang_up(self) -> None:
        """The socket closes (what is queued is written first) without a
        twilsock ``close`` frame of its own: after a refused ``init`` the SDK has
        read the refusal and ends "denied"; a ``close`` frame would make it end
        "disconnected" (docs/realtime-protocol.md §4)."""
        self.cancel_timers()
        written = await self.flush(self.gateway.close_timeout)
        self.closed = True
        self._stop_writer()
        if not written:
            self._release()
            self._cut()
            return
        with contextlib.suppress(RuntimeError, OSError, WebSocketDisconnect):
            if self.websocket.application_state != WebSocketState.DISCONNECTED:
                await self.websocket.close(1000)

    def stop_writing(self) -> None:
        """The socket is gone: the writer task ends, queued frames are dropped."""
        self.closed = True
        self._stop_writer()
        self._release()

    def _stop_writer(self) -> None:
        if self._writer is not None:
            self._writer.cancel()

    def _cut(self) -> None:
        abort = getattr(self._transport, "abort", None)
        if callable(abort):
            abort()

    def cancel_timers(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()

    def schedule(self) -> None:
        """(Re)arm the token timers and the keepalive for the current grant."""
        self.cancel_timers()
        assert self.grant is not None
        left = self.grant.expires - time.time()
        warn = max(0.0, left - self.gateway.about_to_expire)
        self._timers.append(asyncio.create_task(self._about_to_expire(warn)))
        self._timers.append(asyncio.create_task(self._expire(max(0.0, left))))
        self._timers.append(asyncio.create_task(self._keepalive()))

    async def _about_to_expire(self, delay: float) -> None:
        await asyncio.sleep(delay)
        header = {
            "method": "client_update",
            "id": new_id(),
            "client_update_type": "token_about_to_expire",
        }
        await self.send(header)

    async def _expire(self, delay: float) -> None:
        await asyncio.sleep(delay)
        self._timers = [t for t in self._timers if t is not asyncio.current_task()]
        await self.close(410, "Token expired")

    async def _keepalive(self) -> None:
        while not self.closed:
            await asyncio.sleep(self.gateway.keepalive)
            await self.send({"method": "ping", "id": new_id()})


Hook = Callable[[Session], Awaitable[None]]
# a client's own commit, to its own session before the reply (Hub.deliver_to)
OwnEvents = Callable[[Session, list[Event]], Awaitable[None]]


class Sessions(set[Session]):
    """This process's connected sessions: the gateway adds and removes them,
    the Sync fan-out and the typing signal read them."""

    def connected(self, service_sid: str, identity: str | None = None) -> list[Session]:
        return [
            s
            for s in self
            if s.grant is not None
            and s.grant.service_sid == service_sid
            and (identity is None or s.grant.identity == identity)
        ]


def _direct_protocol(receive: Any) -> WebSocketsSansIOProtocol | None:
    """uvicorn's protocol of an accepted socket, when a frame may be written on
    its transport as ``binary_message`` bytes: websockets' sans-I/O protocol
    (uvicorn's default) with no extension negotiated (Parley turns
    per-message deflate off, server.py), which writes each message as those
    bytes. Any other protocol gets every frame through ``websocket.send_bytes``."""
    protocol = getattr(receive, "__self__", None)
    if (
        isinstance(protocol, WebSocketsSansIOProtocol)
        and not protocol.conn.extensions
        and protocol.initial_response is None
    ):
        return protocol
    return None


def _transport(receive: Any) -> Transport | None:
    """The socket's asyncio transport (uvicorn's WebSocket protocols own it,
    behind ``receive``): its write buffer says whether a frame can be written
    at once, and ``abort`` cuts a client that stopped reading, which a polite
    close would wait for. Without it every frame goes through the queue."""
    transport = getattr(getattr(receive, "__self__", None), "transport", None)
    if callable(getattr(transport, "get_write_buffer_size", None)):
        return transport
    return None


async def connecting_user(
    tx: Tx, service: services.Service, identity: str, role_sid: str | None
) -> Row:
    """The user of a connecting client (a socket, or a simulated connection):
    created by the first connection (docs/behaviour.md, "Users and connections"),
    with the token's deployment role if it names one."""
    user = await users.find(tx, service, identity)
    if user is None:
        origin = Origin("sdk", identity=identity)
        return await users.create(tx, service, identity, origin, role_sid=role_sid)
    return cast(Row, user)  # the session keeps the generic row the Sync view reads


class Gateway:
    """The ASGI endpoint mounted at ``/v3/wsconnect`` plus the live sessions."""

    keepalive = 30.0  # seconds between ``ping`` frames (flex-plugins' mock uses 30 s)
    about_to_expire = 180.0  # seconds before exp that token_about_to_expire is sent
    offload_backoff_ms = 1000  # reconnect_min_ms advertised with the 308 offload
    close_timeout = 3.0  # seconds a goodbye may take to write (twilsock gives close 3 s)
    # docs/security.md, "Real-time connections"
    send_queue_frames = 2048  # frames queued for one socket before it is dropped
    send_queue_bytes = 4 * 1024 * 1024  # bytes queued for one socket before it is dropped
    contexts_max = 32  # put_notification_ctx entries per socket
    context_bytes_max = 16 * 1024  # bytes of one context's payload
    message_types_max = 64  # registered message types per socket

    def __init__(
        self,
        runtime: Runtime,
        routes: Routes,
        sessions: Sessions,
        *,
        on_connect: Sequence[Hook] = (),
        on_disconnect: Sequence[Hook] = (),
        own_events: OwnEvents | None = None,
    ) -> None:
        self.runtime = runtime
        self.store = runtime.store
        self.routes = routes
        settings = runtime.settings
        self.init_timeout = settings.ws_init_timeout
        self.per_token = settings.ws_sockets_per_token
        self.per_account = settings.ws_sockets_per_account
        self._token_sockets: collections.Counter[str] = collections.Counter()
        self.dropped: collections.Counter[str] = collections.Counter()  # by reason, /metrics
        self._account_sockets: collections.Counter[str] = collections.Counter()
        self.sessions = sessions
        self.on_connect = tuple(on_connect)
        self.on_disconnect = tuple(on_disconnect)
        self.own_events = own_events
        self.stopping = False

    def connected(self, service_sid: str, identity: str | None = None) -> list[Session]:
        return self.sessions.connected(service_sid, identity)

    async def stop(self) -> None:
        """Shutdown: every client is told to reconnect elsewhere (308 offload),
        and given ``close_timeout`` to close its socket itself."""
        self.stopping = True
        body = {"backoff_policy": {"reconnect_min_ms": self.offload_backoff_ms}}
        sessions = list(self.sessions)
        for session in sessions:
            await session.say_close(308, "Server is shutting down", body)
        # twilsock closes its socket on the offload: closing it from here at the
        # same moment made twilio-chat 2.x's ws write to a closed socket and end
        # the app (docs/realtime-protocol.md §4)
        deadline = time.monotonic() + self.close_timeout
        while any(s in self.sessions for s in sessions) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        await asyncio.gather(*(s.hang_up() for s in sessions if s in self.sessions))

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        websocket = WebSocket(scope, receive, send)
        if self.stopping:
            await websocket.close(1012)
            return
        await websocket.accept()
        session = Session(self, websocket, _transport(receive), _direct_protocol(receive))
        self.sessions.add(session)
        try:
            await self._serve(session)
        finally:
            session.stop_writing()
            session.cancel_timers()
            self.sessions.discard(session)
            self._uncount(session)
            for extension in session.extensions.values():
                close = getattr(extension, "close", None)
                if callable(close):
                    close()
            if session.user is not None:
                for hook in self.on_disconnect:
                    try:
                        await hook(session)
                    except Exception:
                        log.exception("disconnect hook failed")

    async def _serve(self, session: Session) -> None:
        websocket = session.websocket
        while not session.closed:
            try:
                if session.grant is None:
                    # a socket that never says init holds nothing for long
                    async with asyncio.timeout(self.init_timeout):
                        message = await websocket.receive()
                else:
                    message = await websocket.receive()
            except TimeoutError:
                await session.close(408, "Request timeout: init expected")
                return
            except (RuntimeError, WebSocketDisconnect):
                return
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("bytes")
            try:
                if data is None:
                    raise frames.FrameError("text frames are not twilsock frames")
                frame = frames.parse(data)
            except frames.FrameError as exc:
                await session.close(406, f"Not acceptable: {exc}")
                return
            try:
                await self._dispatch(session, frame)
            except Exception:
                log.exception("twilsock %s frame failed", frame.method)
                await session.close(500, "Internal error")
                return

    async def _dispatch(self, session: Session, frame: frames.Frame) -> None:
        method = frame.method
        if method == "reply":
            return  # the client's ack of a frame we sent
        if method == "close":
            session.closed = True
            return
        if frame.id is None:
            await session.close(406, "Not acceptable: frame without an id")
            return
        if session.grant is None and method != "init":
            await session.close(406, "Not acceptable: init expected")
            return
        if method == "init":
            await self._init(session, frame)
        elif method == "update":
            await self._update(session, frame)
        elif method == "message":
            await self._message(session, frame)
        elif method in ("put_notification_ctx", "delete_notification_ctx"):
            refused = self._context(session, frame)
            if refused is None:
                await self._reply(session, frame.id, 200)
            else:
                await self._reply(session, frame.id, 400, description=refused)
        else:
            await self._reply(session, frame.id, 400, description=f"Unsupported method {method}")

    async def _reply(
        self, session: Session, frame_id: str, code: int, payload: Any = None, **extra: Any
    ) -> None:
        status = _status(code)
        for key in ("errorCode", "description"):
            if key in extra:
                status[key] = extra.pop(key)
        await session.send({"method": "reply", "id": frame_id, "status": status, **extra}, payload)

    async def _grant(self, session: Session, frame: frames.Frame) -> tokens.Grant | None:
        assert frame.id is not None
        try:
            async with self.store.read() as tx:
                return await tokens.validate(tx, frame.header.get("token", ""))
        except StoreUnavailable as exc:
            await self._unavailable(session, frame.id, exc)
            return None
        except TwilioError as exc:
            log.info(
                "twilsock %s refused: 401 %s %s (client %s)",
                frame.method,
                exc.code,
                exc.message,
                _peer(session),
            )
            await self._reply(session, frame.id, 401, errorCode=exc.code, description=exc.message)
            return None

    async def _unavailable(self, session: Session, frame_id: str, exc: TwilioError) -> None:
        """The database is down: twilsock retries a 5xx init with back-off, so
        the client comes back once it is up (docs/security.md, "Faults")."""
        await self._reply(session, frame_id, 503, errorCode=exc.code, description=exc.message)
        await session.close(503, "Service unavailable")

    async def _init(self, session: Session, frame: frames.Frame) -> None:
        assert frame.id is not None
        if session.grant is not None:
            await self._reply(session, frame.id, 400, description="Already initialised")
            return
        grant = await self._grant(session, frame)
        if grant is None:
            if not session.closed:  # (a 503 has closed it already)
                await session.hang_up()
            return
        token_key = hashlib.sha256(str(frame.header.get("token")).encode()).hexdigest()[:32]
        over = self._over_limit(grant, token_key)
        if over is not None:
            # twilsock retries a 429 with back-off (docs/realtime-protocol.md §5)
            await self._reply(session, frame.id, 429, errorCode=20429, description=over)
            await session.close(429, over)
            return
        session.counted = (token_key, grant.account_sid)
        self._token_sockets[token_key] += 1
        self._account_sockets[grant.account_sid] += 1
        try:
            async with self.store.write() as tx:
                service = await services.by_sid(tx, grant.service_sid)
                if service is None:
                    raise TwilioError(20106)
                user = await connecting_user(tx, service, grant.identity, grant.deployment_role_sid)
        except StoreUnavailable as exc:
            await self._unavailable(session, frame.id, exc)
            return
        except TwilioError as exc:
            log.info(
                "twilsock init refused: 403 %s %s (identity %s, client %s)",
                exc.code,
                exc.message,
                grant.identity,
                _peer(session),
            )
            await self._reply(session, frame.id, 403, errorCode=exc.code, description=exc.message)
            await session.hang_up()
            return
        session.grant, session.service, session.user = grant, service, user
        if isinstance(session._protocol, TwilsockProtocol):
            # the client's acks (ignored by _dispatch) go no further than the
            # protocol from now on: they were half the server's CPU in a
            # fan-out (inbound.py)
            session._protocol.skip = frames.is_reply
        registrations = frame.header.get("registrations") or []
        for registration in registrations if isinstance(registrations, list) else []:
            if isinstance(registration, dict):
                self.register_types(session, registration.get("message_types"))
        # before the reply: a client that is told it is connected is online
        for hook in self.on_connect:
            try:
                await hook(session)
            except Exception:
                log.exception("connect hook failed")
        asked = frame.header.get("capabilities") or []
        confirmed = [c for c in asked if c in CAPABILITIES]
        storage = hashlib.sha256(f"{service['sid']}:{user['sid']}".encode()).hexdigest()[:32]
        await self._reply(
            session,
            frame.id,
            200,
            continuation_token="CT" + uuid.uuid4().hex,
            continuation_token_status={"reissued": False, "reissue_message": ""},
            capabilities=confirmed,
            offline_storage={"ip_messaging": {"storage_id": storage}},
            init_registrations=frame.header.get("registrations") or [],
            debug_info={},
        )
        session.schedule()

    async def _update(self, session: Session, frame: frames.Frame) -> None:
        assert frame.id is not None and session.grant is not None
        grant = await self._grant(session, frame)
        if grant is None:
            return
        old = session.grant
        if (grant.account_sid, grant.service_sid, grant.identity) != (
            old.account_sid,
            old.service_sid,
            old.identity,
        ):
            # a refreshed token keeps identity and service
            # (docs/behaviour.md, "Users and connections")
            error = TwilioError(20106)
            await self._reply(
                session, frame.id, 401, errorCode=error.code, description=error.message
            )
            return
        session.grant = grant
        session.schedule()
        await self._reply(session, frame.id, 200)

    def _own_events(self, session: Session) -> Callable[[list[Event]], Awaitable[None]] | None:
        deliver = self.own_events
        if deliver is None:
            return None

        async def own(events: list[Event]) -> None:
            await deliver(session, events)

        return own

    def _over_limit(self, grant: tokens.Grant, token_key: str) -> str | None:
        """Why one more socket for this token or account is refused, if it is."""
        if self._token_sockets[token_key] >= self.per_token:
            return f"Too many connections with this token (at most {self.per_token})"
        if self._account_sockets[grant.account_sid] >= self.per_account:
            return f"Too many connections for this account (at most {self.per_account})"
        return None

    def _uncount(self, session: Session) -> None:
        if session.counted is None:
            return
        token_key, account_sid = session.counted
        for counter, key in (
            (self._token_sockets, token_key),
            (self._account_sockets, account_sid),
        ):
            counter[key] -= 1
            if counter[key] <= 0:
                del counter[key]
        session.counted = None

    def _context(self, session: Session, frame: frames.Frame) -> str | None:
        """Apply a put/delete_notification_ctx; the reason it is refused, if it is."""
        ctx_id = str(frame.header.get("notification_ctx_id") or "")
        if frame.method == "delete_notification_ctx":
            session.contexts.pop(ctx_id, None)
            return None
        size = frame.header.get("payload_size", 0)
        if isinstance(size, int) and size > self.context_bytes_max:
            return f"Notification context too large (at most {self.context_bytes_max} bytes)"
        if ctx_id not in session.contexts and len(session.contexts) >= self.contexts_max:
            return f"Too many notification contexts (at most {self.contexts_max})"
        session.contexts[ctx_id] = frame.payload
        if isinstance(frame.payload, dict):
            self.register_types(session, frame.payload.get("message_types"))
        return None

    def register_types(self, session: Session, types: Any) -> None:
        """Add message types a client registers, up to ``message_types_max``."""
        if not isinstance(types, list):
            return
        for kind in types:
            if len(session.message_types) >= self.message_types_max:
                return
            if isinstance(kind, str) and len(kind) <= 256:
                session.message_types.add(kind)

    async def _message(self, session: Session, frame: frames.Frame) -> None:
        assert frame.id is not None
        http = frame.header.get("http_request")
        if not isinstance(http, dict) or not isinstance(http.get("path"), str):
            await self._reply(session, frame.id, 400, description="http_request expected")
            return
        method = str(http.get("method") or "GET").upper()
        path = http["path"]
        raw_headers = http.get("headers")
        headers: dict[str, Any] = raw_headers if isinstance(raw_headers, dict) else {}
        try:
            path, params = split(path, http.get("params"))
            handler, path_params = self.routes.match(method, path)
            request = Request(
                session,
                method,
                path,
                params,
                frame.payload,
                headers,
                self.runtime,
                path_params,
                self._own_events(session),
            )
            response = await handler(request)
        except TwilioError as exc:
            response = Response(exc.status, exc.body())
        except Exception:
            log.exception("tunnelled %s %s failed", method, path)
            error = TwilioError(20500)
            response = Response(500, error.body())
        _log_outcome(session, method, path, response)
        await self._reply(
            session,
            frame.id,
            200,
            response.body,
            http_status=_status(response.status),
            http_headers={"Content-Type": "application/json"},
        )


# refusals: the client may not do this (token, role, membership, a pre-event
# veto); logged at info. Other answers (404 probes, 409 conflicts, invalid
# input, successes) at debug (docs/realtime-protocol.md §5).
REFUSALS = frozenset({401, 403})


def _log_outcome(session: Session, method: str, path: str, response: Response) -> None:
    status = response.status
    level = logging.INFO if status in REFUSALS else logging.DEBUG
    if not log.isEnabledFor(level):
        return
    identity = session.grant.identity if session.grant else None
    body = response.body if isinstance(response.body, dict) else {}
    if status < 400:
        log.log(level, "client %s %s %s -> %s", identity, method, path, status)
        return
    log.log(
        level,
        "client request %s: %s %s identity=%s %s %s: %s",
        "refused" if status in REFUSALS else "failed",
        status,
        body.get("code"),
        identity,
        method,
        path,
        body.get("message"),
    )
