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
