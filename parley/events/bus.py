"""The in-process bus: committed events fanned out to live subscribers.

A subscriber is an async callable; a slow or failing subscriber never affects
the write that produced the event (errors are logged). The Redis bus has the
same interface and carries events across processes.
"""

import logging
from collections.abc import Awaitable, Callable

from parley.events.model import Event

log = logging.getLogger("parley.bus")

Subscriber = Callable[[list[Event]], Awaitable[None]]


class MemoryBus:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber)

    async def publish(self, events: list[Event]) -> None:
        for subscriber in list(self._subscribers):
            try:
                await subscriber(events)
            except Exception:
                log.exception("bus subscriber failed")

    async def close(self) -> None:
        self._subscribers.clear()
