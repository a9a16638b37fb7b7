"""Push fixtures: the fake gateways (one test CA for the session), the
session server switched to send to them, and a small world to push into."""

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from twilio.rest import Client

from parley.domain import bindings
from parley.events import Origin
from parley.store import repo
from tests.conftest import Server
from tests.push.fakes import FakeApns, FakeFcm, apns_certificate, gateways

PUSHING = {
    "push_record_only": False,
    "push_backoff": 0.05,
    "push_poll": 0.05,
    "push_timeout": 3.0,
}


@dataclass
class Gateways:
    ca: Any
    apns: FakeApns
    fcm: FakeFcm
    ca_file: str


@pytest.fixture(scope="session")
def fake_gateways() -> Iterator[Gateways]:
    with gateways() as (ca, apns, fcm):
        saved = os.environ.get("SSL_CERT_FILE")
        os.environ["SSL_CERT_FILE"] = str(apns.cafile)
        try:
            yield Gateways(ca, apns, fcm, str(apns.cafile))
        finally:
            if saved is None:
                os.environ.pop("SSL_CERT_FILE", None)
            else:
                os.environ["SSL_CERT_FILE"] = saved


@pytest.fixture
def pushing(server: Server, fake_gateways: Gateways) -> Iterator[Server]:
    """The session server sending pushes to the fake gateways, test-fast."""
    settings = server.app.settings
    given = {
        **PUSHING,
        "apns_url": fake_gateways.apns.url,
        "apns_sandbox_url": fake_gateways.apns.url + "/sandbox",
        "fcm_url": fake_gateways.fcm.url,
    }
    saved = {name: getattr(settings, name) for name in given}
    for name, value in given.items():
        setattr(settings, name, value)
    with fake_gateways.apns.lock, fake_gateways.fcm.lock:
        fake_gateways.apns.hits.clear()
        fake_gateways.fcm.hits.clear()
    yield server
    for name, value in saved.items():
        setattr(settings, name, value)


ALL_ON = {
    "notifications_new_message_enabled": True,
    "notifications_added_to_channel_enabled": True,
    "notifications_invited_to_channel_enabled": True,
    "notifications_removed_from_channel_enabled": True,
}


@dataclass
class World:
    """A service with pushes on, an APNs and an FCM credential, and helpers."""

    server: Server
    client: Client
    gateways: Gateways
    service: Any
    apn: Any
    fcm: Any
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def rest(self) -> Any:
        return self.client.chat.v2.services(self.service.sid)

    def bind(
        self,
        identity: str,
        credential: Any,
        token: str,
        message_types: list[str] | None = None,
    ) -> dict[str, Any]:
        """Register a binding as the SDK's registrar does (endpoint from the
        token's endpoint_id, pushes to the device token)."""
        store = self.server.app.store
        assert store is not None

        async def register() -> dict[str, Any]:
            async with store.write() as tx:
                service = await repo.get(tx, "services", {"sid": self.service.sid})
                assert service is not None
                return await bindings.register(
                    tx,
                    service,
                    identity,
                    f"app:{identity}:{token[:6]}",
                    credential.type,
                    Origin("sdk", identity=identity),
                    credential_sid=credential.sid,
                    message_types=message_types,
                    address=token,
                )

        row: dict[str, Any] = self.server.run(register())
        self.tokens[identity] = token
        return row

    def pushes(self, **where: Any) -> list[dict[str, Any]]:
        from parley.push import outbox, routes

        store = self.server.app.store
        assert store is not None

        async def load() -> list[dict[str, Any]]:
            async with store.read() as tx:
                rows = await outbox.listing(
                    tx, self.service.account_sid, service_sid=self.service.sid, **where
                )
            return [routes.describe(r) for r in rows]

        found: list[dict[str, Any]] = self.server.run(load())
        return found

    def settled(self, count: int, timeout: float = 10.0, **where: Any) -> list[dict[str, Any]]:
        import time

        deadline = time.monotonic() + timeout
        while True:
            done = [p for p in self.pushes(**where) if p["state"] != "pending"]
            if len(done) >= count:
                return done
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} settled pushes, got {self.pushes()}")
            time.sleep(0.02)


@pytest.fixture
def world(
    client: Client, service: Any, pushing: Server, fake_gateways: Gateways
) -> Iterator[World]:
    rest = client.chat.v2.services(service.sid)
    updated = rest.update(**ALL_ON)
    cert, key = apns_certificate(fake_gateways.ca)
    apn = client.chat.v2.credentials.create(
        type="apn", certificate=cert, private_key=key, sandbox=False, friendly_name="apns"
    )
    account = fake_gateways.fcm.service_account()
    import orjson

    fcm = client.chat.v2.credentials.create(
        type="fcm", secret=orjson.dumps(account).decode(), friendly_name="fcm v1"
    )
    yield World(pushing, client, fake_gateways, updated, apn, fcm)
    for cred in (apn, fcm):
        client.chat.v2.credentials(cred.sid).delete()
