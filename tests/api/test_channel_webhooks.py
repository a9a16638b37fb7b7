"""Channel Webhook resource through the official SDK (docs/behaviour.md §R12, §W6)."""

from typing import Any

import pytest
from twilio.rest import Client

from parley.store import repo
from tests.api.chat_fixtures import Captured, twilio_error
from tests.conftest import Server

FLOW = "FW" + "a" * 32


def hooks(client: Client, service: Any, channel: Any) -> Any:
    return client.chat.v2.services(service.sid).channels(channel.sid).webhooks


def stored(server: Server, sid: str) -> dict[str, Any]:
    store = server.app.store
    assert store is not None

    async def read() -> dict[str, Any]:
        async with store.read() as tx:
            row = await repo.get(tx, "channel_webhooks", {"sid": sid})
            assert row is not None
            return row

    result: dict[str, Any] = server.run(read())
    return result


def test_webhook_type(server: Server, client: Client, service: Any, channel: Any) -> None:
    created = hooks(client, service, channel).create(
        type="webhook",
        configuration_url="https://example.com/hook",
        configuration_filters=["onMessageSent", "onMemberAdded"],
    )
    assert created.sid.startswith("WH") and created.type == "webhook"
    assert created.channel_sid == channel.sid and created.service_sid == service.sid
    assert created.url == (
        f"{client.chat.base_url}/v2/Services/{service.sid}/Channels/{channel.sid}"
        f"/Webhooks/{created.sid}"
    )
    # Method defaults to POST, RetryCount to 0 (docs/behaviour.md §R12)
    assert created.configuration == {
        "url": "https://example.com/hook",
        "method": "POST",
        "filters": ["onMessageSent", "onMemberAdded"],
        "retry_count": 0,
    }
    assert created.date_updated is None
    row = stored(server, created.sid)
    assert row["filters"] == '["onMessageSent","onMemberAdded"]'
    assert row["triggers"] is None and row["flow_sid"] is None and row["retry_count"] == 0


def test_trigger_type(server: Server, client: Client, service: Any, channel: Any) -> None:
    created = hooks(client, service, channel).create(
        type="trigger",
        configuration_url="https://example.com/bot",
        configuration_method="GET",
        configuration_triggers=["help", "support"],
        configuration_retry_count=3,
    )
    # the spec example lists the trigger keywords under filters (docs/decisions.md §12)
    assert created.configuration == {
        "url": "https://example.com/bot",
        "method": "GET",
        "filters": ["help", "support"],
        "retry_count": 3,
    }
    row = stored(server, created.sid)
    assert row["triggers"] == '["help","support"]' and row["filters"] is None


def test_studio_type(server: Server, client: Client, service: Any, channel: Any) -> None:
    created = hooks(client, service, channel).create(
        type="studio", configuration_flow_sid=FLOW, configuration_filters=["onMessageSent"]
    )
    assert created.configuration == {"flow_sid": FLOW}
    row = stored(server, created.sid)
    assert row["flow_sid"] == FLOW and row["url"] is None and row["method"] is None
    assert row["filters"] == '["onMessageSent"]'


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"type": "webhook", "configuration_filters": ["onMessageSent"]}, 50329),
        ({"type": "webhook", "configuration_url": "https://x.test"}, 50330),
        (
            {
                "type": "webhook",
                "configuration_url": "https://x.test",
                "configuration_filters": ["onMessageSend"],  # a pre-event
            },
            50325,
        ),
        ({"type": "trigger", "configuration_triggers": ["a"]}, 50329),
        ({"type": "trigger", "configuration_url": "https://x.test"}, 50326),
        (
            {
                "type": "trigger",
                "configuration_url": "https://x.test",
                "configuration_triggers": ["a", " "],
            },
            50326,
        ),
        (
            {
                "type": "trigger",
                "configuration_url": "https://x.test",
                "configuration_triggers": list("abcdef"),
            },
            50322,
        ),
        ({"type": "studio", "configuration_filters": ["onMessageSent"]}, 20001),
        ({"type": "studio", "configuration_flow_sid": FLOW}, 50330),
        (
            {"type": "studio", "configuration_flow_sid": "FW1", "configuration_filters": ["x"]},
            20001,
        ),
        ({"type": "email", "configuration_url": "https://x.test"}, 20001),
        (
            {
                "type": "webhook",
                "configuration_url": "https://x.test",
                "configuration_filters": ["onMessageSent"],
                "configuration_retry_count": 4,
            },
            50065,
        ),
        (
            {
                "type": "webhook",
                "configuration_url": "ftp://x.test",
                "configuration_filters": ["onMessageSent"],
            },
            20001,
        ),
        (
            {
                "type": "webhook",
                "configuration_url": "https://x.test",
                "configuration_filters": ["onMessageSent"],
                "configuration_method": "PUT",
            },
            20001,
        ),
    ],
)
def test_create_validates(
    client: Client, service: Any, channel: Any, kwargs: dict[str, Any], code: int
) -> None:
    with twilio_error(code, 400):
        hooks(client, service, channel).create(**kwargs)
    assert hooks(client, service, channel).list() == []


def test_at_most_five_per_channel(client: Client, service: Any, channel: Any) -> None:
    webhooks = hooks(client, service, channel)
    for i in range(5):
        webhooks.create(
            type="trigger", configuration_url=f"https://x.test/{i}", configuration_triggers=["k"]
        )
    with twilio_error(50321, 403):
        webhooks.create(
            type="trigger", configuration_url="https://x.test/6", configuration_triggers=["k"]
        )
    page = webhooks.page()
    assert len(list(page)) == 5 and page.next_page() is None
    other = client.chat.v2.services(service.sid).channels.create(friendly_name="other")
    hooks(client, service, other).create(
        type="studio", configuration_flow_sid=FLOW, configuration_filters=["onMessageSent"]
    )


def test_update_merges_and_revalidates(
    server: Server, client: Client, service: Any, channel: Any
) -> None:
    webhooks = hooks(client, service, channel)
    created = webhooks.create(
        type="webhook", configuration_url="https://x.test", configuration_filters=["onMessageSent"]
    )
    updated = webhooks(created.sid).update(
        configuration_filters=["onMessageRemoved", "onChannelDestroyed"],
        configuration_retry_count=2,
    )
    assert updated.configuration == {
        "url": "https://x.test",
        "method": "POST",
        "filters": ["onMessageRemoved", "onChannelDestroyed"],
        "retry_count": 2,
    }
    assert updated.type == "webhook" and updated.date_updated is not None
    with twilio_error(50325, 400):
        webhooks(created.sid).update(configuration_filters=["onUserAdded"])
    fetched = webhooks(created.sid).fetch()
    assert fetched.configuration["filters"] == ["onMessageRemoved", "onChannelDestroyed"]
    trigger = webhooks.create(
        type="trigger", configuration_url="https://x.test", configuration_triggers=["a"]
    )
    with twilio_error(50322, 400):
        webhooks(trigger.sid).update(configuration_triggers=list("abcdef"))
    moved = webhooks(trigger.sid).update(configuration_url="https://y.test/new")
    assert moved.configuration["url"] == "https://y.test/new"
    assert moved.configuration["filters"] == ["a"]
    assert stored(server, trigger.sid)["url"] == "https://y.test/new"


def test_fetch_delete_and_scope(
    client: Client, other_client: Client, service: Any, channel: Any, events: Captured
) -> None:
    webhooks = hooks(client, service, channel)
    created = webhooks.create(
        type="webhook", configuration_url="https://x.test", configuration_filters=["onMessageSent"]
    )
    # the channel by unique name works too (docs/behaviour.md §R1)
    client.chat.v2.services(service.sid).channels(channel.sid).update(unique_name="lobby")
    by_name = client.chat.v2.services(service.sid).channels("lobby").webhooks(created.sid)
    assert by_name.fetch().sid == created.sid
    other = client.chat.v2.services(service.sid).channels.create(friendly_name="other")
    with twilio_error(20404, 404):
        hooks(client, service, other)(created.sid).fetch()
    with twilio_error(20404, 404):
        other_client.chat.v2.services(service.sid).channels(channel.sid).webhooks(
            created.sid
        ).fetch()
    webhooks(created.sid).delete()
    with twilio_error(20404, 404):
        webhooks(created.sid).fetch()
    assert events.kinds()[0] == "parley.channel_webhook.created"
    assert events.kinds()[-1] == "parley.channel_webhook.deleted"
    assert events.of("parley.channel_webhook.deleted")[0].channel_sid == channel.sid


def test_deleted_with_the_channel(
    server: Server, client: Client, service: Any, channel: Any
) -> None:
    created = hooks(client, service, channel).create(
        type="studio", configuration_flow_sid=FLOW, configuration_filters=["onMessageSent"]
    )
    client.chat.v2.services(service.sid).channels(channel.sid).delete()
    with pytest.raises(AssertionError):
        stored(server, created.sid)
