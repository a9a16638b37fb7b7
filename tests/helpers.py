"""Test helpers that reach past the REST API: what client SDKs will do
(push registration) and the committed events on the bus."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from parley.domain import bindings
from parley.events import Event, Origin
from parley.store import Row, repo
from tests.conftest import Server


def register_binding(
    server: Server,
    service_sid: str,
    identity: str,
    endpoint: str,
    binding_type: str = "fcm",
    **kwargs: Any,
) -> Row:
    """What a client SDK's push registration does (domain ``bindings.register``)."""
    store = server.app.store
    assert store is not None

    async def run() -> Row:
        async with store.write() as tx:
            service = await repo.get(tx, "services", {"sid": service_sid})
            assert service is not None
            return await bindings.register(
                tx, service, identity, endpoint, binding_type, Origin("sdk"), **kwargs
            )

    result: Row = server.run(run())
    return result


@contextmanager
def captured_events(server: Server) -> Iterator[list[Event]]:
    """Every event committed while the block runs, in order."""
    seen: list[Event] = []

    async def collect(events: list[Event]) -> None:
        seen.extend(events)

    unsubscribe = server.app.bus.subscribe(collect)
    try:
        yield seen
    finally:
        unsubscribe()
