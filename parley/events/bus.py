"""The bus: committed events fanned out to live subscribers.

``MemoryBus`` serves one process. ``RedisBus`` carries events between processes
over Redis pub/sub: every process publishes what it committed and delivers what
any process committed to its own subscribers (the real-time fan-out, wake-ups of
the webhook worker). The bus is a notification path only: the outbox table is
the durable record, so a message lost on the bus (Redis restart) is found again
by consumers that read the outbox from their own position.

A slow or failing subscriber never affects the write that produced the event.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import orjson

from parley.events.model import Event

log = logging.getLogger("parley.bus")

Subscriber = Callable[[list[Event]], Awaitable[None]]


class Bus(Protocol):
    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]: ...

    async def publish(self, events: list[Event]) -> None: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class _Fanout:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._subscribers.remove(subscriber)

        return unsubscribe

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

    async def close(self) -> None:
        self._subscribers.clear()


def _encode(events: list[Event]) -> bytes:
    return orjson.dumps([{**e.to_row(), "seq": e.seq} for e in events])


def _decode(data: Any) -> list[Event]:
    return [Event.from_row(row) for row in orjson.loads(data)]


class RedisBus(_Fanout):
    """Events over one Redis pub/sub channel; delivered locally on receipt."""

    def __init__(self, url: str, channel: str = "parley:events") -> None:
        super().__init__()
        self.url = url
        self.channel = channel
        self._redis: Any = None
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def start(self) -> None:
        import redis.asyncio as redis

        self._redis = redis.from_url(self.url)
        await self._redis.ping()
        self._task = asyncio.create_task(self._listen(), name="parley-redis-bus")
        await asyncio.wait_for(self._ready.wait(), 10)

    async def publish(self, events: list[Event]) -> None:
        try:
            await self._redis.publish(self.channel, _encode(events))
        except Exception:
            # the outbox keeps the events; consumers that poll it catch up
            log.exception("publishing %d events to Redis failed", len(events))

    async def _listen(self) -> None:
        while True:
            pubsub = self._redis.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                self._ready.set()
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        await self._deliver(_decode(message["data"]))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("Redis bus connection lost; reconnecting")
                await asyncio.sleep(0.5)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    async def close(self) -> None:
        self._subscribers.clear()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._redis is not None:
            await self._redis.aclose()


def make_bus(redis_url: str | None) -> Bus:
    return RedisBus(redis_url) if redis_url else MemoryBus()
