"""Fixtures shared by the conversation tests (channels, members, messages,
invites, media), registered as a plugin by ``tests/conftest.py``."""

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from twilio.rest import Client

from parley.events import Event
from tests.conftest import Server


class Captured(list[Event]):
    """Events published on the bus while a test runs."""

    def kinds(self) -> list[str]:
        return [e.kind for e in self]

    def of(self, kind: str) -> list[Event]:
        return [e for e in self if e.kind == kind]


@pytest.fixture
def events(server: Server) -> Iterator[Captured]:
    captured = Captured()

    async def collect(batch: list[Event]) -> None:
        captured.extend(batch)

    unsubscribe = server.app.bus.subscribe(collect)
    yield captured
    unsubscribe()


@pytest.fixture
def channel(client: Client, service: Any) -> Any:
    return client.chat.v2.services(service.sid).channels.create(friendly_name="room")


@contextlib.contextmanager
def twilio_error(code: int, status: int) -> Iterator[None]:
    from twilio.base.exceptions import TwilioRestException

    with pytest.raises(TwilioRestException) as raised:
        yield
    assert (raised.value.code, raised.value.status) == (code, status), raised.value.msg


def stored(server: Server, table: str, **where: Any) -> list[dict[str, Any]]:
    """Rows as stored, read on the server's loop (for state no endpoint shows)."""
    from parley.store import repo

    async def read() -> list[dict[str, Any]]:
        assert server.app.store is not None
        async with server.app.store.read() as tx:
            return await repo.select(tx, table, where)

    rows: list[dict[str, Any]] = server.run(read())
    return rows


def make_user(server: Server, service_sid: str, identity: str) -> dict[str, Any]:
    """A user created through the domain (the Users endpoints are not needed here)."""
    from parley.domain import users
    from parley.events import Origin
    from parley.store import repo

    async def create() -> dict[str, Any]:
        assert server.app.store is not None
        async with server.app.store.write() as tx:
            service = await repo.get(tx, "services", {"sid": service_sid})
            assert service is not None
            return await users.create(tx, service, identity, Origin("system"))

    row: dict[str, Any] = server.run(create())
    return row
