"""Media uploads (parley/media.py) and media messages (docs/behaviour.md §P8)."""

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from twilio.rest import Client

from tests.api.chat_fixtures import Captured, twilio_error
from tests.conftest import Account, Server


@pytest.fixture
def mcs(server: Server, account: Account) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, auth=(account.sid, account.auth_token)) as http:
        yield http


def upload(
    mcs: httpx.Client, service_sid: str, content: bytes = b"\x89PNG data", **kwargs: Any
) -> dict[str, Any]:
    headers = {"Content-Type": "image/png", **kwargs.pop("headers", {})}
    response = mcs.post(
        f"/v1/Services/{service_sid}/Media", content=content, headers=headers, **kwargs
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_upload_fetch_and_content(mcs: httpx.Client, server: Server, service: Any) -> None:
    media = upload(mcs, service.sid, headers={"Content-Disposition": 'inline; filename="a b.png"'})
    assert media["sid"].startswith("ME") and len(media["sid"]) == 34
    assert media["service_sid"] == service.sid and media["account_sid"].startswith("AC")
    assert media["size"] == 9 and media["content_type"] == "image/png"
    assert media["filename"] == "a b.png" and media["message_sid"] is None
    assert media["date_created"].endswith("Z")
    url = f"{server.url}/v1/Services/{service.sid}/Media/{media['sid']}"
    assert media["url"] == url and media["links"]["content"] == url + "/Content"
    assert mcs.get(url).json() == media
    content = mcs.get(media["links"]["content"])
    assert content.status_code == 200 and content.content == b"\x89PNG data"
    assert content.headers["content-type"] == "image/png"


def test_filename_sources(mcs: httpx.Client, service: Any) -> None:
    assert upload(mcs, service.sid, params={"Filename": "q.png"})["filename"] == "q.png"
    encoded = {"Content-Disposition": "attachment; filename*=UTF-8''caf%C3%A9.png"}
    assert upload(mcs, service.sid, headers=encoded)["filename"] == "café.png"
    assert upload(mcs, service.sid)["filename"] is None


def test_errors(mcs: httpx.Client, server: Server, service: Any) -> None:
    missing = mcs.post(f"/v1/Services/IS{'0' * 32}/Media", content=b"x")
    assert missing.status_code == 404 and missing.json()["code"] == 20404
    assert set(missing.json()) == {"code", "message", "more_info", "status"}
    unknown = mcs.get(f"/v1/Services/{service.sid}/Media/ME{'0' * 32}")
    assert unknown.status_code == 404 and unknown.json()["code"] == 20404
    wrong_verb = mcs.delete(f"/v1/Services/{service.sid}/Media")
    assert wrong_verb.status_code == 405 and wrong_verb.json()["code"] == 20004
    anonymous = httpx.post(f"{server.url}/v1/Services/{service.sid}/Media", content=b"x")
    assert anonymous.status_code == 401 and anonymous.json()["code"] == 20003
    assert anonymous.headers["www-authenticate"] == 'Basic realm="Twilio API"'


def test_other_account_cannot_use_the_service(
    server: Server, service: Any, other_client: Client, mcs: httpx.Client
) -> None:
    media = upload(mcs, service.sid)
    user, password = other_client.username, other_client.password
    with httpx.Client(base_url=server.url, auth=(user, password)) as other:
        assert other.get(f"/v1/Services/{service.sid}/Media/{media['sid']}").status_code == 404
        assert other.post(f"/v1/Services/{service.sid}/Media", content=b"x").status_code == 404


def test_media_message(
    client: Client, mcs: httpx.Client, service: Any, channel: Any, events: Captured
) -> None:
    media = upload(mcs, service.sid, params={"Filename": "pic.png"})
    messages = client.chat.v2.services(service.sid).channels(channel.sid).messages
    message = messages.create(media_sid=media["sid"], from_="alice")
    assert message.type == "media" and message.body is None
    assert message.media == {
        "sid": media["sid"],
        "size": 9,
        "content_type": "image/png",
        "filename": "pic.png",
    }
    assert messages(message.sid).fetch().media == message.media
    assert [m.media for m in messages.list()] == [message.media]
    fetched = mcs.get(media["url"]).json()
    assert fetched["message_sid"] == message.sid
    [sent] = events.of("onMediaMessageSent")
    assert sent.payload["media"] == message.media
    assert sent.payload["compatibility_message"] == (
        "Media messages are not supported by your client"
    )
    assert events.of("onMessageSent") == []

    # a media SID is attached once (50508); a media message's body is fixed (50509)
    with twilio_error(50508, 409):
        messages.create(media_sid=media["sid"])
    with twilio_error(50509, 400):
        messages(message.sid).update(body="caption")
    assert messages(message.sid).update(attributes='{"seen": 1}').was_edited is True


def test_media_message_with_body_and_compatibility_message(
    client: Client, mcs: httpx.Client, service: Any, channel: Any, events: Captured
) -> None:
    client.chat.v2.services(service.sid).update(media_compatibility_message="Get a new app")
    media = upload(mcs, service.sid)
    messages = client.chat.v2.services(service.sid).channels(channel.sid).messages
    message = messages.create(media_sid=media["sid"], body="look")
    assert message.body == "look" and message.type == "media"
    [sent] = events.of("onMediaMessageSent")
    assert sent.payload["compatibility_message"] == "Get a new app"


def test_media_of_another_service_is_unknown(
    client: Client, mcs: httpx.Client, service: Any, channel: Any, make_service: Any
) -> None:
    media = upload(mcs, make_service().sid)
    response = client.request("POST", f"{channel.url}/Messages", data={"MediaSid": media["sid"]})
    assert response.status_code == 400 and json.loads(response.text)["code"] == 50507


def test_deleting_the_message_deletes_its_media(
    client: Client, mcs: httpx.Client, service: Any, channel: Any
) -> None:
    media = upload(mcs, service.sid)
    messages = client.chat.v2.services(service.sid).channels(channel.sid).messages
    message = messages.create(media_sid=media["sid"])
    messages(message.sid).delete()
    assert mcs.get(media["url"]).status_code == 404


def test_channel_delete_removes_everything_in_it(
    client: Client, mcs: httpx.Client, server: Server, service: Any, events: Captured
) -> None:
    from tests.api.chat_fixtures import make_user, stored

    svc = client.chat.v2.services(service.sid)
    room = svc.channels.create(unique_name="cascade")
    kept = svc.channels.create(unique_name="kept")
    make_user(server, service.sid, "invitee")
    svc.channels(room.sid).members.create(identity="alice")
    svc.channels(kept.sid).members.create(identity="alice")
    svc.channels(room.sid).invites.create(identity="invitee")
    svc.channels(room.sid).messages.create(body="text")
    media = upload(mcs, service.sid)
    svc.channels(room.sid).messages.create(media_sid=media["sid"])
    svc.channels(room.sid).delete(x_twilio_webhook_enabled="true")

    for table in ("members", "messages", "invites", "channel_webhooks"):
        assert stored(server, table, channel_sid=room.sid) == [], table
    assert mcs.get(media["url"]).status_code == 404
    [alice] = stored(server, "users", service_sid=service.sid, identity="alice")
    assert alice["joined_channels_count"] == 1
    assert svc.channels(kept.sid).fetch().members_count == 1
    [destroyed] = events.of("onChannelDestroyed")
    # twilio-python drops the header on DELETE (docs/behaviour.md §C6): no webhooks
    assert destroyed.channel_sid == room.sid and destroyed.webhooks is False
    assert events.of("onMemberRemoved") == [] and events.of("onMessageRemoved") == []
