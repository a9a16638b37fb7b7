"""Webhook fixtures: a local receiver, fast delivery settings, and event makers."""

from collections.abc import Iterator
from typing import Any

import pytest
from twilio.rest import Client

from parley import sids, timefmt
from parley.domain.catalogue import POST_EVENTS
from parley.events import Origin, emit
from parley.store import repo
from tests.conftest import Account, Server
from tests.webhooks.receiver import Receiver

FAST = {
    "webhook_backoff": 0.05,
    "webhook_poll": 0.05,
    "webhook_timeout": 2.0,
    "webhook_lease": 2.0,
}


@pytest.fixture
def fast(server: Server) -> Iterator[Server]:
    """The session server with test-sized back-off, poll and timeout."""
    settings = server.app.settings
    saved = {
        name: getattr(settings, name)
        for name in (*FAST, "studio_url", "webhook_retention", "webhook_concurrency")
    }
    for name, value in FAST.items():
        setattr(settings, name, value)
    yield server
    for name, value in saved.items():
        setattr(settings, name, value)


@pytest.fixture
def hooked(client: Client, service: Any, receiver: Receiver, fast: Server) -> Any:
    """A service whose post-event webhook (POST, every event) points at the receiver."""
    return client.chat.v2.services(service.sid).update(
        post_webhook_url=receiver.url(),
        webhook_filters=list(POST_EVENTS),
        post_webhook_retry_count=0,
    )


class Events:
    """Records domain events the way the domain does (``parley.events.emit``)."""

    def __init__(self, server: Server, account: Account, service_sid: str) -> None:
        self.server = server
        self.account = account
        self.service_sid = service_sid

    def emit(
        self,
        kind: str,
        row: dict[str, Any],
        origin: Origin | None = None,
        channel_sid: str | None = None,
        **extra: Any,
    ) -> None:
        async def go() -> None:
            assert self.server.app.store is not None
            async with self.server.app.store.write() as tx:
                await emit(
                    tx,
                    origin or Origin("api", True),
                    kind,
                    row,
                    channel_sid=channel_sid,
                    **extra,
                )

        self.server.run(go())

    def base(self, prefix: str, **fields: Any) -> dict[str, Any]:
        return {
            "sid": sids.new_sid(prefix),
            "account_sid": self.account.sid,
            "service_sid": self.service_sid,
            "date_created": timefmt.now(),
            "date_updated": None,
            **fields,
        }

    def channel(self, **fields: Any) -> dict[str, Any]:
        defaults = {
            "friendly_name": "general",
            "unique_name": None,
            "attributes": None,
            "type": "public",
            "created_by": "system",
        }
        return self.base(sids.CHANNEL, **{**defaults, **fields})

    def message(self, channel_sid: str, idx: int, body: str | None = "hi", **fields: Any) -> Any:
        defaults = {
            "channel_sid": channel_sid,
            "idx": idx,
            "author": "alice",
            "body": body,
            "attributes": None,
            "type": "text",
            "media_sid": None,
        }
        return self.base(sids.MESSAGE, **{**defaults, **fields})

    def member(self, channel_sid: str, identity: str = "alice", **fields: Any) -> Any:
        defaults = {
            "channel_sid": channel_sid,
            "user_sid": sids.new_sid(sids.USER),
            "identity": identity,
            "role_sid": sids.new_sid(sids.ROLE),
            "attributes": None,
            "last_consumed_message_index": None,
        }
        return self.base(sids.MEMBER, **{**defaults, **fields})

    def user(self, identity: str = "alice", **fields: Any) -> Any:
        defaults = {
            "identity": identity,
            "friendly_name": None,
            "attributes": None,
            "role_sid": sids.new_sid(sids.ROLE),
            "is_online": None,
            "is_notifiable": None,
        }
        return self.base(sids.USER, **{**defaults, **fields})

    def channel_webhook(self, channel_sid: str, type: str, **fields: Any) -> str:
        """Store a channel webhook row (the REST resource is issue #4's)."""
        row = self.base(
            sids.WEBHOOK,
            channel_sid=channel_sid,
            type=type,
            url=fields.get("url"),
            method=fields.get("method"),
            filters=fields.get("filters"),
            triggers=fields.get("triggers"),
            flow_sid=fields.get("flow_sid"),
            retry_count=fields.get("retry_count"),
        )

        async def go() -> None:
            assert self.server.app.store is not None
            async with self.server.app.store.write() as tx:
                await repo.insert(tx, "channel_webhooks", row)

        self.server.run(go())
        return str(row["sid"])


@pytest.fixture
def events(server: Server, account: Account, service: Any) -> Events:
    return Events(server, account, service.sid)
