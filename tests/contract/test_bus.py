"""The bus contract on both implementations; Redis also across instances."""

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from parley.events import Event
from parley.events.bus import Bus, MemoryBus, RedisBus
from tests.conftest import REDIS_URL, unavailable


def _event(seq: int) -> Event:
    return Event("onMessageSent", "AC1", "IS1", "CH1", {"body": f"m{seq}"}, webhooks=True, seq=seq)


def _redis_or_skip() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        unavailable(f"Redis at {REDIS_URL}", repr(exc))


def _make(kind: str) -> Callable[[], Bus]:
    if kind == "redis":
        _redis_or_skip()
        channel = f"parley:test:{id(object())}"
        return lambda: RedisBus(REDIS_URL, channel)
    return MemoryBus


@pytest.mark.parametrize("kind", ["memory", pytest.param("redis", marks=pytest.mark.redis)])
def test_subscribers_get_published_events(kind: str) -> None:
    make = _make(kind)

    async def main() -> list[Any]:
        bus = make()
        await bus.start()
        got: list[Event] = []
        arrived = asyncio.Event()

        async def subscriber(events: list[Event]) -> None:
            got.extend(events)
            if len(got) >= 3:
                arrived.set()

        async def broken(events: list[Event]) -> None:
            raise RuntimeError("a failing subscriber must not stop the others")

        bus.subscribe(broken)
        bus.subscribe(subscriber)
        planned = _event(2)
        planned.planned.add("push")  # which workers to wake travels with the event
        await bus.publish([_event(1), planned])
        await bus.publish([_event(3)])
        await asyncio.wait_for(arrived.wait(), 5)
        await bus.close()
        return [(e.seq, e.payload["body"], e.webhooks, e.channel_sid, e.planned) for e in got]

    assert asyncio.run(main()) == [
        (i, f"m{i}", True, "CH1", {"push"} if i == 2 else set()) for i in (1, 2, 3)
    ]


@pytest.mark.redis
def test_redis_bus_crosses_instances() -> None:
    make = _make("redis")

    async def main() -> list[int]:
        one, two = make(), make()
        await one.start()
        await two.start()
        got: list[int] = []
        arrived = asyncio.Event()

        async def on_two(events: list[Event]) -> None:
            got.extend(e.seq for e in events)
            arrived.set()

        two.subscribe(on_two)
        await one.publish([_event(42)])
        await asyncio.wait_for(arrived.wait(), 5)
        await one.close()
        await two.close()
        return got

    assert asyncio.run(main()) == [42]
