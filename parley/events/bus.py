"""The bus: committed events fanned out to live subscribers.

``MemoryBus`` serves one process. ``RedisBus`` carries events between processes
over Redis pub/sub: every process publishes what it committed and delivers what
any process committed to its own subscribers (the real-time fan-out, wake-ups of
the webhook worker). The bus is a notification path only: the outbox table is
the durable record, and what the workers send was planned in the transaction
of the change (their own rows), so a wake-up lost on the bus (Redis restart)
only waits for the workers' next poll.

A slow or failing subscriber never affects the write that produced the event.

Signals are the other kind of traffic: ephemeral notices that are never stored
(a user is typing), sent to every process's signal subscribers (each tells its
own sockets). Redis carries them on a second channel; without Redis they stay
in the process. A signal lost on the way is lost: typing is repeated by the
client while the user types.

Redis may be down when Parley starts or go away later: the process starts
anyway, retries in the background (0.5 s doubling to 5 s), delivers what it
commits to its own subscribers meanwhile, and reports the state to its health
checks, which log each change once (docs/security.md, "Faults").
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import orjson

from parley import timefmt
from parley.events.model import Event

log = logging.getLogger("parley.bus")

Subscriber = Callable[[list[Event]], Awaitable[None]]
# an ephemeral notice for every process: a JSON object with a "kind"
Signal = dict[str, Any]
SignalSubscriber = Callable[[Signal], Awaitable[None]]
# (up, detail): the bus's connection state, for the health checks
Reporter = Callable[[bool, str | None], None]


class Bus(Protocol):
    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]: ...

    async def publish(self, events: list[Event]) -> None: ...

    def on_signal(self, subscriber: SignalSubscriber) -> Callable[[], None]: ...

    async def signal(self, signal: Signal) -> None: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


def _subscription(subscribers: list[Any], subscriber: Any) -> Callable[[], None]:
    subscribers.append(subscriber)

    def unsubscribe() -> None:
        with contextlib.suppress(ValueError):
            subscribers.remove(subscriber)

    return unsubscribe


class _Fanout:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._signal_subscribers: list[SignalSubscriber] = []

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        return _subscription(self._subscribers, subscriber)

    def on_signal(self, subscriber: SignalSubscriber) -> Callable[[], None]:
        return _subscription(self._signal_subscribers, subscriber)

    async def _deliver_signal(self, signal: Signal) -> None:
        for subscriber in list(self._signal_subscribers):
            try:
                await subscriber(signal)
            except Exception:
                log.exception("bus signal subscriber failed")

    async def _deliver(self, events: list[Event]) -> None:
        for subscriber in list(self._subscribers):
            try:
                await subscriber(events)
            except Exception:
                log.exception("bus subscriber failed")


class MemoryBus(_Fanout):
    async def start(self) -> None:
        return None

    async def publish(self, events: list[Event]) -> None:
        await self._deliver(events)

    async def signal(self, signal: Signal) -> None:
        await self._deliver_signal(signal)

    async def close(self) -> None:
        self._subscribers.clear()
        self._signal_subscribers.clear()


def _encode(events: list[Event]) -> bytes:
    return orjson.dumps(
        [
            {**e.to_row(), "seq": e.seq, "planned": sorted(e.planned), "revisions": e.revisions}
            for e in events
        ]
    )


def _decode(data: Any) -> list[Event]:
    out = []
    for row in orjson.loads(data):
        event = Event.from_row(row)
        event.planned = set(row.get("planned") or ())
        event.revisions = dict(row.get("revisions") or {})
        out.append(event)
    return out


class RedisBus(_Fanout):
    """Events over one Redis pub/sub channel; delivered locally on receipt.

    ``publish`` only queues: one publisher task sends what is queued, in commit
    order, as one PUBLISH per batch. A request never waits on a Redis round
    trip, and events committed while a PUBLISH is in flight share the next one
    (measured in bench/: awaiting each PUBLISH cost a third of message throughput).
    """

    BATCH = 500  # events per PUBLISH at most
    TIMEOUT = 5.0  # seconds to connect or to answer a command
    RETRY_MIN, RETRY_MAX = 0.5, 5.0  # seconds between reconnection attempts

    def __init__(
        self,
        url: str,
        channel: str = "parley:events",
        report: Reporter | None = None,
        lag: Callable[[float], None] | None = None,
    ) -> None:
        super().__init__()
        self.url = url
        self.channel = channel
        self.signals = channel + ":signals"
        self._redis: Any = None
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._outgoing: list[Event] = []
        self._queued = asyncio.Event()
        self._publisher: asyncio.Task[None] | None = None
        self._report = report or (lambda up, detail: None)
        self._lag = lag  # observes seconds from an event's transaction to its arrival

    async def start(self) -> None:
        """Connect; when Redis does not answer, start anyway (reported as down,
        retried in the background) rather than fail or hang."""
        import redis.asyncio as redis

        self._redis = redis.from_url(
            self.url, socket_connect_timeout=self.TIMEOUT, health_check_interval=30
        )
        self._task = asyncio.create_task(self._listen(), name="parley-redis-bus")
        self._publisher = asyncio.create_task(self._publish_queued(), name="parley-redis-pub")
        try:
            await asyncio.wait_for(self._ready.wait(), self.TIMEOUT * 2)
        except TimeoutError:
            self._report(False, f"no answer from {self.url} at start-up")

    async def publish(self, events: list[Event]) -> None:
        self._outgoing.extend(events)
        self._queued.set()

    async def signal(self, signal: Signal) -> None:
        """Sent at once (signals are few, and not ordered with events); every
        process, this one included, delivers it on receipt."""
        try:
            await asyncio.wait_for(
                self._redis.publish(self.signals, orjson.dumps(signal)), self.TIMEOUT
            )
        except Exception as exc:
            self._report(False, f"publish failed: {type(exc).__name__}: {exc}")
            await self._deliver_signal(signal)

    async def _publish_queued(self) -> None:
        while True:
            await self._queued.wait()
            self._queued.clear()
            await self._flush()

    async def _flush(self) -> None:
        while self._outgoing:
            batch = self._outgoing[: self.BATCH]
            del self._outgoing[: self.BATCH]
            try:
                await asyncio.wait_for(
                    self._redis.publish(self.channel, _encode(batch)), self.TIMEOUT
                )
            except Exception as exc:
                # the outbox keeps the events and other processes' pollers catch
                # up; this process's own subscribers get them now
                self._report(False, f"publish failed: {type(exc).__name__}: {exc}")
                await self._deliver(batch)

    async def _listen(self) -> None:
        pause = self.RETRY_MIN
        while True:
            pubsub = self._redis.pubsub()
            try:
                await asyncio.wait_for(pubsub.subscribe(self.channel, self.signals), self.TIMEOUT)
                self._ready.set()
                self._report(True, None)
                pause = self.RETRY_MIN
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    if message.get("channel") in (self.signals, self.signals.encode()):
                        await self._deliver_signal(orjson.loads(message["data"]))
                    else:
                        events = _decode(message["data"])
                        if self._lag is not None and events:
                            self._lag((timefmt.now() - events[0].date_created) / 1e6)
                        await self._deliver(events)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._ready.set()  # start-up need not wait any longer
                self._report(False, f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(pause)
                pause = min(pause * 2, self.RETRY_MAX)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    async def close(self) -> None:
        self._subscribers.clear()
        self._signal_subscribers.clear()
        if self._publisher is not None:
            self._publisher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._publisher
            await self._flush()  # what was committed before close still goes out
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._redis is not None:
            await self._redis.aclose()


def make_bus(
    redis_url: str | None,
    report: Reporter | None = None,
    lag: Callable[[float], None] | None = None,
) -> Bus:
    return RedisBus(redis_url, report=report, lag=lag) if redis_url else MemoryBus()
