"""Pushes delivered to the fake APNs and FCM (issue 13): who gets what, what
it says, and how each gateway is spoken to."""

import time
from typing import Any

from tests.push.conftest import World
from tests.push.fakes import BUNDLE_ID


def _channel(world: World, *identities: str, name: str = "general") -> Any:
    channel = world.rest.channels.create(friendly_name=name, unique_name=f"{name}-{time.time_ns()}")
    for identity in identities:
        world.rest.channels(channel.sid).members.create(identity=identity)
    return channel


def _users(world: World, **names: str) -> None:
    for identity, friendly in names.items():
        world.rest.users.create(identity=identity, friendly_name=friendly or None)


def test_new_message_goes_to_every_member_but_the_author_and_the_muted(world: World) -> None:
    _users(world, alice="Alice A", bob="", carol="Carol", dave="Dave")
    channel = _channel(world, "alice", "bob", "carol", "dave")
    world.bind("alice", world.apn, "a" * 64)
    world.bind("bob", world.apn, "b" * 64)
    world.bind("carol", world.fcm, "carol-fcm-token")
    world.bind("dave", world.apn, "d" * 64)
    world.rest.users("dave").user_channels(channel.sid).update(notification_level="muted")
    apns, fcm = world.gateways.apns, world.gateways.fcm
    message = world.rest.channels(channel.sid).messages.create(body="hello", from_="alice")

    pushes = world.settled(2)
    assert sorted(p["identity"] for p in pushes) == ["bob", "carol"]
    assert {p["state"] for p in pushes} == {"sent"}
    hit = apns.wait(1, path="/3/device/")[0]
    assert hit.path == "/3/device/" + "b" * 64
    assert hit.http_version == "2"
    assert hit.headers["apns-topic"] == BUNDLE_ID
    assert hit.headers["apns-push-type"] == "alert"
    assert hit.body["aps"] == {"alert": "general;Alice A: hello"}
    assert hit.body["twi_message_type"] == "twilio.channel.new_message"
    assert hit.body["channel_sid"] == channel.sid
    assert hit.body["message_sid"] == message.sid
    assert hit.body["message_index"] == message.index
    sent = fcm.wait(1, path="/v1/projects/parley-test/messages:send")[0]
    assert sent.headers["authorization"].startswith("Bearer ya29.")
    data = sent.body["message"]["data"]
    assert sent.body["message"]["token"] == "carol-fcm-token"
    assert data["twi_body"] == "general;Alice A: hello"
    assert data["twi_message_type"] == "twilio.channel.new_message"
    assert data["message_index"] == str(message.index)
    assert all(isinstance(v, str) for v in data.values())
