"""The real twilio-chat 6.0.0 registers the devices (``setPushRegistrationId``)
and reads the pushes Parley sent (``Client.parsePushNotification``, run in Node
on the exact payloads the fake gateways received): issue 13 point 3."""

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import ChatGrant

from tests.node.test_twilio_chat import HERE, NODE, READY
from tests.push.conftest import World
from tests.realtime.helpers import make_key

BOB_DEVICE = "b0b" + "0" * 61
CAROL_DEVICE = "carol-fcm-registration-id"


def _token(world: World, key: dict[str, str], identity: str, credential: Any = None) -> str:
    built = AccessToken(world.service.account_sid, key["sid"], key["secret"], identity=identity)
    built.add_grant(
        ChatGrant(
            service_sid=world.service.sid,
            endpoint_id=f"parley-tests:{identity}:phone",
            push_credential_sid=credential.sid if credential is not None else None,
        )
    )
    return str(built.to_jwt())


def _node(env: dict[str, str], *args: str) -> str:
    assert NODE is not None
    done = subprocess.run(
        [NODE, *args], cwd=HERE, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_sdk_registers_and_parses_what_parley_pushed(world: World, tmp_path: Path) -> None:
    if not READY:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true: Node and `npm ci` in tests/node are required")
        pytest.skip("node or tests/node/node_modules missing (make node-deps)")
    world.rest.update(
        notifications_new_message_sound="chime.caf",
        notifications_new_message_badge_count_enabled=True,
    )
    channel = world.rest.channels.create(friendly_name="mobile", unique_name="mobile-sdk")
    for identity in ("alice", "bob", "carol"):
        world.rest.channels(channel.sid).members.create(identity=identity)
    key = make_key(world.server, world.service.account_sid)
    env = {
        **os.environ,
        "PARLEY_WS": world.server.url.replace("http://", "ws://") + "/v3/wsconnect",
        "PARLEY_REST": world.server.url,
        "PARLEY_ACCOUNT_SID": world.service.account_sid,
        "PARLEY_AUTH_TOKEN": world.client.password,
        "PARLEY_SERVICE_SID": world.service.sid,
        "PARLEY_CHANNEL_SID": channel.sid,
        "PARLEY_BOB_DEVICE": BOB_DEVICE,
        "PARLEY_CAROL_DEVICE": CAROL_DEVICE,
        "PARLEY_TOKENS": json.dumps(
            {
                "alice": _token(world, key, "alice"),
                "bob": _token(world, key, "bob", world.apn),
                "carol": _token(world, key, "carol", world.fcm),
            }
        ),
    }
    out = _node(env, "push.js", "register")
    assert "ok registered" in out and "ok sent" in out
    registered = {b.identity: b for b in world.rest.bindings.list()}
    assert registered["bob"].binding_type == "apn"
    assert registered["bob"].endpoint == "parley-tests:bob:phone"
    assert registered["carol"].credential_sid == world.fcm.sid
    # a second message, by REST
    by_rest = world.rest.channels(channel.sid).messages.create(body="from rest", from_="alice")
    world.settled(4)
    sent = {m.body: m for m in world.rest.channels(channel.sid).messages.list()}
    assert set(sent) == {"from the sdk", "from rest"} and sent["from rest"].sid == by_rest.sid

    apns = [h.body for h in world.gateways.apns.wait(2, path=f"/3/device/{BOB_DEVICE}")]
    fcm = [
        h.body["message"]
        for h in world.gateways.fcm.wait(2, path="/v1/")
        if h.body["message"]["token"] == CAROL_DEVICE
    ]
    assert len(apns) == len(fcm) == 2
    payloads = tmp_path / "payloads.json"
    payloads.write_text(json.dumps(apns + fcm))
    parsed = json.loads(_node(env, "push.js", "parse", str(payloads)))

    for i, push in enumerate(parsed):
        body = "from the sdk" if i % 2 == 0 else "from rest"
        message = sent[body]
        assert push["type"] == "twilio.channel.new_message"
        assert push["body"] == f"mobile;alice: {body}"
        assert push["sound"] == "chime.caf"
        assert push["data"] == {
            "channelSid": channel.sid,
            "messageSid": message.sid,
            "messageIndex": message.index,
        }
    # the SDK reads a badge from APNs only: bob's unread count, 1 then 2
    assert [p["badge"] for p in parsed] == [1, 2, None, None]
