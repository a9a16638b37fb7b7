"""Per-session Sync subscriptions: replay, then live events, never a gap or a
duplicate.

Each subscribed object has a position (the last event id the client has).
Replay and live delivery both go through ``deliver`` under the session's lock:
events at or below the position are dropped, a gap is filled from the store.

Replayed events are sent as ``twilio.sync.event`` (strictly ordered, they
advance the client's last_event_id); live ones as ``com.twilio.rtd.cds.<type>``
(twilio-sync@3.4.0 client.ts:157-160, subscriptions.ts:398-460).

The fan-out never waits for one session: live events (and revocations) are
``offer``-ed; a session that is busy (replaying) queues them, in order, for its
own task, and one whose queue overflows is dropped (docs/security.md,
"Real-time connections"). Replays wait for room in the session's send queue.
"""

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from parley.errors import TwilioError
from parley.events import Event
from parley.realtime.gateway import Session, Sessions, binary_message, notification
from parley.runtime import Runtime
from parley.store import Row, StoreUnavailable
from parley.sync import access, names, store, view

log = logging.getLogger("parley.sync")

# POST /v4/Subscriptions answers this: twilio-sync waits that long for a
# subscription's establishment before it asks again (docs/realtime-protocol.md §6.2)
ESTIMATED_DELIVERY_MS = 10_000

REPLAY = "twilio.sync.event"
LIVE = "com.twilio.rtd.cds.{}"
KEY = "sync"
BACKLOG_MAX = 1024  # fan-out batches a busy session may have waiting
OBJECTS_MAX = 1000  # objects one socket may be subscribed to
# an action run under the session's lock; its argument: may it wait for room
# in the send queue (False on the fan-out's own path)
Action = Callable[[bool], Awaitable[None]]


class _Lock(asyncio.Lock):
    def idle(self) -> bool:
        """Free, and nobody waiting for it: taking it now would not wait."""
        waiters = self._waiters
        return not self.locked() and (not waiters or all(w.cancelled() for w in waiters))


# one live event of an object, for every subscriber: (event id, twilsock
# frame, WebSocket message, whether it removes the object)
Live = tuple[int, bytes, bytes, bool]


class SessionSubscriptions:
    def __init__(self, session: Session, runtime: Runtime) -> None:
        self.session = session
        self._store = runtime.store
        self._base = runtime.base_url
        self.positions: dict[str, int] = {}  # object SID -> last event id delivered
        # object SID -> the object as found (what its events are read by)
        self.objects: dict[str, Row] = {}
        self.lock = _Lock()
        self.tasks: set[asyncio.Task[None]] = set()
        self.protocol = 3
        self._backlog: collections.deque[Action] | None = None  # made when first needed
        self._drainer: asyncio.Task[None] | None = None

    async def offer(self, action: Action) -> None:
        """Run ``action`` now if the session is idle (the lock is free: taking it
        does not wait), else queue it for the session's own task, in order."""
        backlog = self._backlog
        if not backlog and not self.lock.locked():
            async with self.lock:
                await action(False)
            return
        if backlog is None:
            backlog = self._backlog = collections.deque()
        if len(backlog) >= BACKLOG_MAX:
            self.session.drop("its Sync fan-out backlog is full", "sync_backlog")
            return
        backlog.append(action)
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain())

    async def _drain(self) -> None:
        backlog = self._backlog
        assert backlog is not None
        while backlog and not self.session.closed:
            action = backlog.popleft()
            try:
                async with self.lock:
                    await action(True)
            except Exception:
                log.exception("sync delivery failed")
        backlog.clear()

    async def apply(
        self, action: str, correlation: Any, protocol: Any, requests: list[dict[str, Any]]
    ) -> None:
        self.protocol = protocol if isinstance(protocol, int) else 3
        for request in requests:
            sid = str(request.get("object_sid") or "")
            kind = str(request.get("object_type") or "")
            try:
                if action == "cancel":
                    await self._cancel(sid, kind, correlation)
                else:
                    await self._establish(sid, kind, request.get("last_event_id"), correlation)
            except Exception:
                log.exception("subscription %s %s failed", action, sid)

    def _envelope(self, event_type: str, event: Any, correlation: Any) -> dict[str, Any]:
        out: dict[str, Any] = {
            "event_type": event_type,
            "event_protocol_version": self.protocol,
            "event": event,
        }
        if correlation is not None:
            out["correlation_id"] = correlation
        return out

    async def _cancel(self, sid: str, kind: str, correlation: Any) -> None:
        async with self.lock:
            self.positions.pop(sid, None)
            self.objects.pop(sid, None)
        event = {"object_sid": sid, "object_type": kind}
        await self.session.notify(
            REPLAY, self._envelope("subscription_canceled", event, correlation)
        )

    async def _establish(self, sid: str, kind: str, last: Any, correlation: Any) -> None:
        grant = self.session.grant
        assert grant is not None
        obj: Row | None = None
        async with self._store.read() as tx:
            if kind in store.PREFIX:
                obj = await view.find(tx, grant.service_sid, kind, sid)
            error: TwilioError | None = None
            if obj is None:
                error = store.not_found(kind if kind in store.PREFIX else "map", sid)
            elif not await access.readable(tx, obj, grant.service_sid, grant.identity):
                error = TwilioError(54007, identity=grant.identity)
            elif obj["sid"] not in self.positions and len(self.positions) >= OBJECTS_MAX:
                # docs/security.md, "Real-time connections"
                error = TwilioError(
                    20429, message=f"Too Many Requests: {OBJECTS_MAX} subscriptions"
                )
        if obj is None or error is not None:
            assert error is not None
            log.debug("subscription to %s %s refused: %s", kind, sid, error.code)
            failed = {
                "object_sid": sid,
                "object_type": kind,
                "error": {"code": error.code, "message": error.message, "status": error.status},
            }
            await self.session.notify(
                REPLAY, self._envelope("subscription_failed", failed, correlation)
            )
            return
        async with self.lock:
            start = last if isinstance(last, int) and last >= 0 else obj["last_event_id"]
            self.positions[obj["sid"]] = min(start, obj["last_event_id"])
            self.objects[obj["sid"]] = obj
            await self._catch_up(obj["sid"], REPLAY, paced=True)
            established = {
                "object_sid": obj["sid"],
                "object_type": kind,
                "replay_status": "completed",
                "last_event_id": self.positions[obj["sid"]],
            }
        await self.session.notify(
            REPLAY, self._envelope("subscription_established", established, correlation)
        )

    async def _catch_up(self, sid: str, message_type: str, paced: bool) -> None:
        """Send every stored event after the position (caller holds the lock);
        ``paced``: wait for room in the send queue rather than overflow it."""
        since = self.positions.get(sid)
        added: set[Any] = set()  # derived items this catch-up has added
        while sid in self.positions and not self.session.closed:
            async with self._store.read() as tx:
                rows = await view.events_after(
                    tx, self.objects[sid], self.positions[sid], since=since
                )
            if not rows:
                return
            for row in rows:
                if row["event_type"] == "list_item_added":
                    # an item edited while the replay ran comes again, newer:
                    # the client has it from an earlier page
                    index = orjson.loads(row["event"])["item_index"]
                    if index in added:
                        row = {**row, "event_type": "list_item_updated"}
                    added.add(index)
                if paced:
                    await self.session.room()
                await self._send(row, message_type)

    async def _send(self, row: Row, message_type: str) -> None:
        sid = row["object_sid"]
        if message_type == REPLAY:
            event = store.render_event(self._base, row)
            payload = self._envelope(row["event_type"], event, None)
            await self.session.notify(message_type, payload)
        else:
            _, data, message, _ = _live(self._base, row)
            await self.session.send_frame(data, message)
        self.positions[sid] = row["event_id"]
        if _removes(row):
            self.positions.pop(sid, None)  # the object is gone: nothing follows
            self.objects.pop(sid, None)

    async def refresh(self, sid: str) -> None:
        """Catch up one object from the stored log (the poll's path)."""

        async def action(paced: bool) -> None:
            if sid in self.positions:
                await self._catch_up(sid, LIVE, paced)

        await self.offer(action)

    async def deliver(self, sid: str, rows: list[Row], wait: bool = False) -> None:
        """Live events of one object, in event-id order. ``wait``: sent before
        this returns (the caller's own commit, ahead of its reply), rather than
        queued behind a busy session; a gap is filled from the store first, so
        the order holds, and what the fan-out offers later is dropped as known."""

        async def action(paced: bool) -> None:
            for row in rows:
                position = self.positions.get(sid)
                if position is None or row["event_id"] <= position:
                    continue
                if row["event_id"] != position + 1:
                    await self._catch_up(sid, LIVE, paced)
                    continue
                await self._send(row, LIVE)

        if sid not in self.positions:
            return
        if wait:
            async with self.lock:
                await action(True)
        else:
            await self.offer(action)

    def deliver_at_once(self, sid: str, live: list[Live]) -> bool:
        """The fan-out's path: live events of one object written on the socket
        now, when nothing could come between them and the session's last
        action: it is idle (its lock free, nothing waiting or queued), the
        events follow its position and its socket takes them at once. What
        ``deliver`` would do then, without its lock, closures and task
        switches per session. False: not all were written; ``deliver`` sends
        the rest (the position says what was)."""
        if self._backlog or not self.lock.idle():
            return False
        positions = self.positions
        write = self.session.write_now
        for event_id, data, message, removes in live:
            position = positions.get(sid)
            if position is None or event_id <= position:
                continue
            if event_id != position + 1 or not write(data, message):
                return False
            if removes:
                positions.pop(sid, None)  # the object is gone: nothing follows
            else:
                positions[sid] = event_id
        return True

    async def forget(self, sids: list[str]) -> None:
        """Stop delivering these objects (in order after what was offered before)."""

        async def action(paced: bool) -> None:
            for sid in sids:
                self.positions.pop(sid, None)
                self.objects.pop(sid, None)

        await self.offer(action)

    def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        if self._drainer is not None:
            self._drainer.cancel()
        if self._backlog is not None:
            self._backlog.clear()


# Live events are the same bytes for every subscriber: rendered and encoded
# once, twilsock frame and WebSocket message (a 1,000-client fan-out did it
# 1,000 times, bench/fanout.py).
_LIVE_FRAMES: dict[tuple[str, str, int], tuple[bytes, bytes]] = {}
_LIVE_FRAMES_MAX = 4096


def _live_frame(base: str, row: Row, message_type: str) -> tuple[bytes, bytes]:
    """A live event's twilsock frame and its WebSocket message."""
    key = (base, str(row["object_sid"]), int(row["event_id"]))
    found = _LIVE_FRAMES.get(key)
    if found is None:
        event = store.render_event(base, row)
        data = notification(message_type, {"event_type": row["event_type"], "event": event})
        found = (data, binary_message(data))
        if len(_LIVE_FRAMES) >= _LIVE_FRAMES_MAX:
            _LIVE_FRAMES.clear()
        _LIVE_FRAMES[key] = found
    return found


OBJECT_REMOVED = frozenset(f"{kind}_removed" for kind in store.PREFIX)


def _live(base: str, row: Row) -> Live:
    """What ``SessionSubscriptions._send`` sends of a live event, for every
    subscriber of its object."""
    kind = row["event_type"].split("_", 1)[0]
    data, message = _live_frame(base, row, LIVE.format(kind))
    return int(row["event_id"]), data, message, _removes(row)


def _removes(row: Row) -> bool:
    return row["event_type"] in OBJECT_REMOVED


async def _to_session(
    session: Session, by_object: dict[str, list[Row]], wait: bool = False
) -> None:
    subs = session.extensions.get(KEY)
    if not isinstance(subs, SessionSubscriptions):
        return
    for sid, object_rows in by_object.items():
        if sid in subs.positions:
            await subs.deliver(sid, object_rows, wait)


def subscriptions(session: Session, runtime: Runtime) -> SessionSubscriptions:
    found = session.extensions.get(KEY)
    if found is None:
        found = session.extensions[KEY] = SessionSubscriptions(session, runtime)
    assert isinstance(found, SessionSubscriptions)
    return found


class Hub:
    """After commit: the Sync events of the committed domain events, to every
    session subscribed to their objects.

    The bus only carries this process's commits. A poll (``poll_interval``)
    compares each subscribed object's ``last_event_id`` with what its sessions
    have, so writes made by another Parley process on the same database reach
    this process's clients too, a poll interval later.
    """

    poll_interval = 1.0  # seconds

    def __init__(
        self,
        runtime: Runtime,
        sessions: Sessions,
        observe: Callable[[float], None] | None = None,
    ) -> None:
        self.store = runtime.store
        self.health = runtime.health
        self._base = runtime.base_url
        self.sessions = sessions
        # seconds one commit took to reach every subscribed session (a metric)
        self._observe = observe
        self._tasks: list[asyncio.Task[None]] = []
        # committed batches wait here for the fan-out task: the request that
        # committed them does not wait for a thousand sockets, and one consumer
        # keeps commit order
        self._queue: asyncio.Queue[list[Event]] = asyncio.Queue()

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._poll()), asyncio.create_task(self._fan_out())]

    @property
    def alive(self) -> bool:
        return bool(self._tasks) and not any(t.done() for t in self._tasks)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def on_events(self, events: list[Event]) -> None:
        """The bus subscriber: queue the batch for the fan-out task."""
        self._queue.put_nowait(events)

    async def _fan_out(self) -> None:
        while True:
            events = await self._queue.get()
            try:
                await self.deliver(events)
            except StoreUnavailable as exc:
                # the poll delivers them once the database is back
                self.health.report("database", False, exc.message)
            except Exception:
                log.exception("sync fan-out failed")

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval)
            try:
                await self.poll_once()
                self.health.report("database", True)
            except StoreUnavailable as exc:
                self.health.report("database", False, exc.message)
            except Exception:
                log.exception("sync poll failed")

    async def poll_once(self) -> None:
        store_ = self.store
        watching: dict[str, list[SessionSubscriptions]] = {}
        for session in list(self.sessions):
            subs = session.extensions.get(KEY)
            if isinstance(subs, SessionSubscriptions):
                for sid in list(subs.positions):
                    watching.setdefault(sid, []).append(subs)
        sids = list(watching)
        async with store_.read() as tx:
            current = await view.last_event_ids(tx, sids)
        for sid, subscribers in watching.items():
            for subs in subscribers:
                position = subs.positions.get(sid)
                # a removed object is missing: its last event is still in the log
                if position is not None and current.get(sid, position + 1) > position:
                    await subs.refresh(sid)

    async def deliver(self, events: list[Event]) -> None:
        """The Sync events caused by committed domain events, to every session
        subscribed to their objects."""
        if not self.sessions:
            return
        started = time.perf_counter()
        by_object = await self._by_object(events)
        if not by_object:
            return
        base = self._base
        live = {
            sid: [_live(base, row) for row in object_rows] for sid, object_rows in by_object.items()
        }
        for session in list(self.sessions):
            subs = session.extensions.get(KEY)
            if not isinstance(subs, SessionSubscriptions):
                continue
            positions = subs.positions
            for sid, object_rows in by_object.items():
                if sid not in positions:
                    continue
                if subs._base == base and subs.deliver_at_once(sid, live[sid]):
                    continue
                await subs.deliver(sid, object_rows)
        if self._observe is not None:
            self._observe(time.perf_counter() - started)
        await self._revoke(events)

    async def deliver_to(self, session: Session, events: list[Event]) -> None:
        """A client's own commit, to its own session, before the reply to its
        request: the SDK sees itself joined (or its message added) when the
        call returns (docs/realtime-protocol.md §6.3). The bus delivers the
        same events later; the session's positions drop them then."""
        subs = session.extensions.get(KEY)
        if not isinstance(subs, SessionSubscriptions) or not subs.positions:
            return
        try:
            by_object = await self._by_object(events)
        except StoreUnavailable:
            # committed already: the answer stands, the bus or the poll delivers
            log.warning("own Sync events not read before the reply (store unavailable)")
            return
        if by_object:
            await _to_session(session, by_object, wait=True)

    async def _by_object(self, events: list[Event]) -> dict[str, list[Row]]:
        """The Sync events of a commit grouped by object, in event-id order.
        Objects removed by the commit come last: what the commit says about
        other objects (a user's channel item, its roster entry) refers to them,
        so it must arrive first (a deleted channel's membership item before its
        document's removal)."""
        if not any(e.seq for e in events):
            return {}
        async with self.store.read() as tx:
            rows = await view.events_caused_by(tx, events)
        by_object: dict[str, list[Row]] = {}
        for row in rows:
            by_object.setdefault(row["object_sid"], []).append(row)
        removed = [sid for sid, found in by_object.items() if _removes(found[-1])]
        for sid in removed:
            by_object[sid] = by_object.pop(sid)
        return by_object

    async def _revoke(self, events: list[Event]) -> None:
        """A removed member's sessions stop receiving the channel's members-only
        objects (they saw their own removal, the last event delivered above)."""
        for event in events:
            if event.kind != "onMemberRemoved" or event.service_sid is None:
                continue
            channel_sid = str(event.payload["channel_sid"])
            sessions = self.sessions.connected(event.service_sid, str(event.payload["identity"]))
            if not sessions:
                continue
            async with self.store.read() as tx:
                objects = [
                    await store.find(tx, event.service_sid, kind, name)
                    for kind, name in (
                        ("list", names.messages(channel_sid)),
                        ("map", names.roster(channel_sid)),
                        ("document", names.channel_doc(channel_sid)),
                    )
                ]
            private = [o for o in objects if o is not None and o["acl"]]
            for session in sessions:
                subs = session.extensions.get(KEY)
                if isinstance(subs, SessionSubscriptions):
                    await subs.forget([obj["sid"] for obj in private])
