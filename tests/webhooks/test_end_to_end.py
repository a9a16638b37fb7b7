"""Webhooks from real REST calls through the official SDK (docs/behaviour.md §W2.1):
every post-event with ``X-Twilio-Webhook-Enabled: true``, none without it."""

import threading
from typing import Any

import httpx
from twilio.rest import Client

from parley.domain.catalogue import POST_EVENTS
from tests.conftest import Account, Server
from tests.webhooks.receiver import Receiver

ON = "true"


def _delete(server: Server, account: Account, path: str) -> None:
    """DELETE with the header: twilio-python 9.13 drops it on every delete
    (docs/behaviour.md §C6), so send it the way twilio-node does."""
    response = httpx.delete(
        server.url + path,
        auth=(account.sid, account.auth_token),
        headers={"X-Twilio-Webhook-Enabled": "true"},
    )
    assert response.status_code == 204, response.text


def test_rest_actions_with_the_header_send_every_post_event(
    client: Client, hooked: Any, receiver: Receiver, server: Server, account: Account
) -> None:
    svc = client.chat.v2.services(hooked.sid)
    user = svc.users.create(identity="alice", x_twilio_webhook_enabled=ON)
    svc.users(user.sid).update(friendly_name="Alice", x_twilio_webhook_enabled=ON)
    channel = svc.channels.create(
        friendly_name="general", unique_name="general", x_twilio_webhook_enabled=ON
    )
    chan = svc.channels(channel.sid)
    chan.update(attributes='{"topic":"x"}', x_twilio_webhook_enabled=ON)
    member = chan.members.create(identity="alice", x_twilio_webhook_enabled=ON)
    chan.members.create(identity="bob", x_twilio_webhook_enabled=ON)  # new user: onUserAdded too
    chan.members(member.sid).update(last_consumed_message_index=0, x_twilio_webhook_enabled=ON)
    message = chan.messages.create(body="hi there", from_="alice", x_twilio_webhook_enabled=ON)
    chan.messages(message.sid).update(body="edited", x_twilio_webhook_enabled=ON)
    media = httpx.post(
        f"{server.url}/v1/Services/{hooked.sid}/Media?Filename=a.png",
        content=b"\x89PNG data",
        headers={"Content-Type": "image/png"},
        auth=(account.sid, account.auth_token),
    ).json()
    chan.messages.create(media_sid=media["sid"], from_="bob", x_twilio_webhook_enabled=ON)
    base = f"/v2/Services/{hooked.sid}/Channels/{channel.sid}"
    _delete(server, account, f"{base}/Messages/{message.sid}")
    _delete(server, account, f"{base}/Members/{member.sid}")
    _delete(server, account, base)

    expected = [
        "onUserAdded",
        "onUserUpdated",
        "onChannelAdded",
        "onChannelUpdated",
        "onMemberAdded",
        "onUserAdded",
        "onMemberAdded",
        "onMemberUpdated",
        "onMessageSent",
        "onMessageUpdated",
        "onMediaMessageSent",
        "onMessageRemoved",
        "onMemberRemoved",
        "onChannelDestroyed",
    ]
    got = receiver.wait_for(len(expected))
    assert len(receiver.quiet(0.3)) == len(expected)
    assert sorted(r.params["EventType"] for r in got) == sorted(expected)
    assert set(expected) == set(POST_EVENTS)
    in_channel = [r.params["EventType"] for r in got if "ChannelSid" in r.params]
    assert in_channel == [k for k in expected if not k.startswith("onUser")]
    for r in got:
        assert r.valid_for(account.auth_token, receiver.url())
        assert r.params["Source"] == "API" and "ClientIdentity" not in r.params
        assert r.params["AccountSid"] == account.sid and r.params["InstanceSid"] == hooked.sid
    by = {(r.params["EventType"], r.params.get("Identity")): r.params for r in got}
    assert by[("onMemberAdded", "bob")]["Reason"] == "ADDED"
    assert by[("onUserAdded", "bob")]["UserSid"].startswith("US")
    assert by[("onUserUpdated", "alice")]["FriendlyName"] == "Alice"
    assert by[("onMemberRemoved", "alice")]["Reason"] == "REMOVED"
    assert by[("onMemberUpdated", "alice")]["LastConsumedMessageIndex"] == "0"
    kinds = {r.params["EventType"]: r.params for r in got}
    assert kinds["onMessageSent"]["Body"] == "hi there" and kinds["onMessageSent"]["Index"] == "0"
    assert kinds["onMessageSent"]["From"] == "alice"
    assert kinds["onMessageUpdated"]["Body"] == "edited"
    assert kinds["onMessageRemoved"]["MessageSid"] == message.sid
    sent_media = kinds["onMediaMessageSent"]
    assert sent_media["MediaSid"] == media["sid"] and sent_media["MediaContentType"] == "image/png"
    assert sent_media["MediaFilename"] == "a.png" and sent_media["MediaSize"] == "9"
    assert sent_media["Index"] == "1" and sent_media["From"] == "bob"
    assert kinds["onChannelAdded"]["UniqueName"] == "general"
    assert kinds["onChannelUpdated"]["Attributes"] == '{"topic":"x"}'
    assert kinds["onChannelDestroyed"]["ChannelSid"] == channel.sid


def test_rest_actions_without_the_header_send_nothing(
    client: Client, hooked: Any, receiver: Receiver
) -> None:
    svc = client.chat.v2.services(hooked.sid)
    svc.users.create(identity="quiet")
    channel = svc.channels.create(friendly_name="quiet")
    svc.channels(channel.sid).members.create(identity="quiet", x_twilio_webhook_enabled="false")
    svc.channels(channel.sid).messages.create(body="shh")
    svc.channels(channel.sid).delete()
    svc.channels.create(friendly_name="loud", x_twilio_webhook_enabled=ON)
    (got,) = receiver.wait_for(1)
    assert got.params["FriendlyName"] == "loud"
    assert len(receiver.quiet(0.3)) == 1


def test_channel_webhooks_created_through_the_sdk(
    client: Client, hooked: Any, receiver: Receiver, account: Account, server: Server
) -> None:
    svc = client.chat.v2.services(hooked.sid)
    client.chat.v2.services(hooked.sid).update(webhook_filters=["onChannelAdded"])
    channel = svc.channels.create(friendly_name="support", x_twilio_webhook_enabled=ON)
    chan = svc.channels(channel.sid)
    hook = chan.webhooks.create(
        type="webhook",
        configuration_url=receiver.url("/channel"),
        configuration_method="GET",
        configuration_filters=["onMessageSent", "onChannelDestroyed"],
        configuration_retry_count=1,
    )
    trigger = chan.webhooks.create(
        type="trigger",
        configuration_url=receiver.url("/trigger"),
        configuration_triggers=["urgent"],
    )
    receiver.reply = lambda r: (
        503
        if r.path == "/channel"
        and r.params.get("Body") == "this is URGENT"
        and r.params["RetryCount"] == "0"
        else 200
    )
    chan.messages.create(body="this is URGENT", x_twilio_webhook_enabled=ON)
    chan.messages.create(body="not really", x_twilio_webhook_enabled=ON)
    _delete(server, account, f"/v2/Services/{hooked.sid}/Channels/{channel.sid}")
    receiver.wait_for(1 + 3 + 1 + 1)
    got = receiver.quiet(0.3)
    channel_calls = [r for r in got if r.path == "/channel"]
    assert [(r.params["EventType"], r.params["RetryCount"]) for r in channel_calls] == [
        ("onMessageSent", "0"),
        ("onMessageSent", "1"),
        ("onMessageSent", "0"),
        ("onChannelDestroyed", "0"),
    ]
    for r in channel_calls:
        assert r.method == "GET" and r.params["WebhookSid"] == hook.sid
        assert r.params["WebhookType"] == "webhook"
        assert r.valid_for(account.auth_token, receiver.url("/channel"))
    (fired,) = [r for r in got if r.path == "/trigger"]
    assert fired.method == "POST" and fired.params["Body"] == "this is URGENT"
    assert fired.params["WebhookSid"] == trigger.sid and fired.params["WebhookType"] == "trigger"
    assert [r.params["EventType"] for r in got if r.path == "/hook"] == ["onChannelAdded"]


def test_a_response_never_waits_for_the_receiver(
    client: Client, hooked: Any, receiver: Receiver
) -> None:
    receiver.gate = threading.Event()  # the receiver holds its replies
    try:
        svc = client.chat.v2.services(hooked.sid)
        channel = svc.channels.create(friendly_name="held", x_twilio_webhook_enabled=ON)
        svc.channels(channel.sid).messages.create(body="x", x_twilio_webhook_enabled=ON)
        # both calls answered while the receiver has answered nothing yet
        assert receiver.answered == 0
        (first,) = receiver.wait_for(1)  # and delivery is under way meanwhile
        assert first.params["EventType"] == "onChannelAdded"
    finally:
        receiver.gate.set()
    receiver.wait_for(2)
