"""Channel resource (docs/behaviour.md §R3)."""

from datetime import UTC, datetime
from typing import Any

import pytest
from twilio.rest import Client

from tests.api.chat_fixtures import Captured, twilio_error

CH_LIKE = "CH" + "a" * 32


def test_create_defaults(client: Client, service: Any) -> None:
    created = client.chat.v2.services(service.sid).channels.create()
    assert created.sid.startswith("CH") and created.service_sid == service.sid
    assert created.friendly_name is None and created.unique_name is None
    assert created.attributes == "{}" and created.type == "public"
    assert created.created_by == "system"
    assert created.members_count == 0 and created.messages_count == 0
    assert created.date_created is not None and created.date_updated is None
    base = f"{client.chat.base_url}/v2/Services/{service.sid}/Channels/{created.sid}"
    assert created.url == base
    assert created.links == {
        "members": base + "/Members",
        "messages": base + "/Messages",
        "invites": base + "/Invites",
        "webhooks": base + "/Webhooks",
        "last_message": None,
    }


def test_create_with_everything_and_fetch_by_sid_and_unique_name(
    client: Client, service: Any
) -> None:
    channels = client.chat.v2.services(service.sid).channels
    created = channels.create(
        friendly_name="General",
        unique_name="general",
        attributes='{"topic": "all"}',
        type="private",
        created_by="alice",
        date_created=datetime(2019, 1, 2, 3, 4, 5, tzinfo=UTC),
        date_updated=datetime(2019, 1, 3, 0, 0, 0, tzinfo=UTC),
    )
    assert created.type == "private" and created.created_by == "alice"
    assert created.date_created == datetime(2019, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert created.date_updated == datetime(2019, 1, 3, tzinfo=UTC)
    for key in (created.sid, "general"):
        fetched = channels(key).fetch()
        assert fetched.sid == created.sid and fetched.attributes == '{"topic": "all"}'
        assert fetched.url.endswith(f"/Channels/{created.sid}")


def test_update_by_unique_name(client: Client, service: Any, events: Captured) -> None:
    channels = client.chat.v2.services(service.sid).channels
    created = channels.create(unique_name="old", friendly_name="Old", type="private")
    updated = channels("old").update(
        unique_name="new", attributes='{"a": 1}', x_twilio_webhook_enabled="true"
    )
    assert updated.unique_name == "new" and updated.friendly_name == "Old"
    assert updated.attributes == '{"a": 1}' and updated.type == "private"
    assert updated.date_updated is not None
    assert channels("new").fetch().sid == created.sid
    with twilio_error(20404, 404):
        channels("old").fetch()
    [event] = events.of("onChannelUpdated")
    assert event.webhooks is True and event.channel_sid == created.sid
    assert event.payload["unique_name"] == "new"


def test_update_with_import_dates(client: Client, service: Any) -> None:
    channels = client.chat.v2.services(service.sid).channels
    created = channels.create()
    when = datetime(2020, 6, 20, 20, 50, 24, tzinfo=UTC)
    updated = channels(created.sid).update(date_created=when, date_updated=when, created_by="bob")
    assert updated.date_created == when and updated.date_updated == when
    assert updated.created_by == "bob"


def test_empty_values_clear_names(client: Client, service: Any) -> None:
    channels = client.chat.v2.services(service.sid).channels
    created = channels.create(unique_name="u", friendly_name="f", attributes='{"x":1}')
    # twilio-python cannot send null; twilio-node sends "Key=" (docs/decisions.md §15)
    body = {"UniqueName": "", "FriendlyName": "", "Attributes": ""}
    response = client.request("POST", created.url, data=body)
    assert response.status_code == 200
    fetched = channels(created.sid).fetch()
    assert fetched.unique_name is None and fetched.friendly_name is None
    assert fetched.attributes == "{}"


def test_unique_name_is_unique_per_service(client: Client, service: Any, make_service: Any) -> None:
    channels = client.chat.v2.services(service.sid).channels
    first = channels.create(unique_name="lobby")
    with twilio_error(50307, 409):
        channels.create(unique_name="lobby", friendly_name="second")
    other = channels.create(unique_name="other")
    with twilio_error(50307, 409):
        channels(other.sid).update(unique_name="lobby")
    assert channels(other.sid).fetch().unique_name == "other"
    # the same name on the channel itself, and in another service, is fine
    assert channels(first.sid).update(unique_name="lobby").unique_name == "lobby"
    elsewhere = client.chat.v2.services(make_service().sid).channels.create(unique_name="lobby")
    assert elsewhere.unique_name == "lobby"
    names = [c.friendly_name for c in channels.list()]
    assert "second" not in names


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"attributes": "{not json"}, 50304),
        ({"attributes": '"' + "x" * 16_400 + '"'}, 50303),
        ({"unique_name": CH_LIKE}, 50306),
        ({"unique_name": "u" * 257}, 50004),
        ({"friendly_name": "f" * 257}, 50003),
        ({"type": "secret"}, 20001),
        ({"date_created": "yesterday"}, 50308),
        ({"date_updated": "2020-13-45T00:00:00Z"}, 50309),
    ],
)
def test_create_rejects_bad_input(
    client: Client, service: Any, kwargs: dict[str, Any], code: int
) -> None:
    channels = client.chat.v2.services(service.sid).channels
    kwargs = {"friendly_name": "bad", **kwargs}  # a copy: the parameters serve every engine
    with twilio_error(code, 400):
        channels.create(**kwargs)
    assert channels.list(type=["public", "private"]) == []


def test_update_rejects_bad_attributes_and_keeps_the_channel(client: Client, service: Any) -> None:
    channels = client.chat.v2.services(service.sid).channels
    created = channels.create(attributes='{"keep": true}', friendly_name="keep")
    with twilio_error(50304, 400):
        channels(created.sid).update(attributes="[1,", friendly_name="changed")
    fetched = channels(created.sid).fetch()
    assert fetched.attributes == '{"keep": true}' and fetched.friendly_name == "keep"
    assert fetched.date_updated is None


def test_names_up_to_256_are_accepted(client: Client, service: Any) -> None:
    created = client.chat.v2.services(service.sid).channels.create(
        friendly_name="f" * 256, unique_name="u" * 256
    )
    assert len(created.unique_name) == 256


def test_list_type_filter(client: Client, service: Any) -> None:
    channels = client.chat.v2.services(service.sid).channels
    public = channels.create(friendly_name="pub")
    private = channels.create(friendly_name="priv", type="private")
    assert [c.sid for c in channels.list()] == [public.sid]
    assert [c.sid for c in channels.list(type=["private"])] == [private.sid]
    both = channels.list(type=["public", "private"])
    assert [c.sid for c in both] == [public.sid, private.sid]


def test_list_pages(client: Client, service: Any) -> None:
    channels = client.chat.v2.services(service.sid).channels
    made = [channels.create(friendly_name=f"c{i}").sid for i in range(7)]
    page = channels.page(page_size=3)
    seen = []
    while page is not None:
        seen += [c.sid for c in page]
        page = page.next_page()
    assert seen == made
    assert [c.sid for c in channels.list(page_size=2)] == made


def test_list_rejects_bad_type_and_token(client: Client, service: Any) -> None:
    base = f"{client.chat.base_url}/v2/Services/{service.sid}/Channels"
    for query in ({"Type": "secret"}, {"PageToken": "garbage"}):
        response = client.request("GET", base, params=query)
        assert response.status_code == 400
        assert '"code":20001' in response.text.replace(" ", "")


def test_delete(client: Client, service: Any, events: Captured) -> None:
    svc = client.chat.v2.services(service.sid)
    created = svc.channels.create(unique_name="doomed")
    svc.channels("doomed").delete(x_twilio_webhook_enabled="true")
    with twilio_error(20404, 404):
        svc.channels(created.sid).fetch()
    with twilio_error(20404, 404):
        svc.channels(created.sid).delete()
    assert svc.channels.create(unique_name="doomed").sid != created.sid
    [destroyed] = events.of("onChannelDestroyed")
    assert destroyed.channel_sid == created.sid and destroyed.payload["unique_name"] == "doomed"


def test_events_follow_the_header(client: Client, service: Any, events: Captured) -> None:
    channels = client.chat.v2.services(service.sid).channels
    quiet = channels.create(friendly_name="quiet")
    loud = channels.create(friendly_name="loud", x_twilio_webhook_enabled="true")
    added = {e.payload["sid"]: e for e in events.of("onChannelAdded")}
    assert added[quiet.sid].webhooks is False and added[loud.sid].webhooks is True
    assert added[loud.sid].channel_sid == loud.sid and added[loud.sid].source == "api"


def test_other_account_sees_nothing(client: Client, other_client: Client, service: Any) -> None:
    created = client.chat.v2.services(service.sid).channels.create(unique_name="mine")
    with twilio_error(20404, 404):
        other_client.chat.v2.services(service.sid).channels(created.sid).fetch()
    with twilio_error(20404, 404):
        other_client.chat.v2.services(service.sid).channels("mine").delete()
    assert client.chat.v2.services(service.sid).channels("mine").fetch().sid == created.sid


def test_delete_honours_the_header_when_sent(
    client: Client, service: Any, events: Captured
) -> None:
    # twilio-node sends it on DELETE (docs/behaviour.md §C6); twilio-python never does
    created = client.chat.v2.services(service.sid).channels.create()
    response = client.request("DELETE", created.url, headers={"X-Twilio-Webhook-Enabled": "true"})
    assert response.status_code == 204 and response.text == ""
    [destroyed] = events.of("onChannelDestroyed")
    assert destroyed.webhooks is True
