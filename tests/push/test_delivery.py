"""Pushes delivered to the fake APNs and FCM (issue 13): who gets what, what
it says, and how each gateway is spoken to."""

import time
from typing import Any

import orjson
import pytest

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


def test_templates_sound_badge_and_every_placeholder(world: World) -> None:
    template = (
        "${USER}|${USER_FRIENDLY_NAME}|${USER_IDENTITY}|${CHANNEL}|${CHANNEL_FRIENDLY_NAME}"
        "|${CHANNEL_UNIQUE_NAME}|${CHANNEL_SID}|${MESSAGE}|${UNKNOWN}"
    )
    world.rest.update(
        notifications_new_message_template=template,
        notifications_new_message_sound="ding.caf",
        notifications_new_message_badge_count_enabled=True,
    )
    _users(world, alice="Alice A", bob="Bob")
    other = _channel(world, "alice", "bob", name="other")
    world.rest.channels(other.sid).messages.create(body="one", from_="alice")
    world.rest.channels(other.sid).messages.create(body="two", from_="alice")
    # bob has read the first of those two
    world.rest.channels(other.sid).members("bob").update(last_consumed_message_index=0)
    channel = _channel(world, "alice", "bob")
    world.bind("bob", world.apn, "e" * 64)
    world.bind("bob", world.fcm, "bob-android")
    world.rest.channels(channel.sid).messages.create(body="hi there", from_="alice")

    pushes = world.settled(2)
    unique = world.rest.channels(channel.sid).fetch().unique_name
    text = f"Alice A|Alice A|alice|general|general|{unique}|{channel.sid}|hi there|${{UNKNOWN}}"
    assert {p["body"] for p in pushes} == {text}
    # unread: 1 left in "other", all 1 in the new channel (nothing read there)
    assert {p["badge"] for p in pushes} == {2}
    hit = world.gateways.apns.wait(1, path="/3/device/")[-1]
    assert hit.body["aps"] == {"alert": text, "sound": "ding.caf", "badge": 2}
    data = world.gateways.fcm.wait(1, path="/v1/")[-1].body["message"]["data"]
    assert data["twi_sound"] == "ding.caf" and data["twi_body"] == text


def test_media_without_text_says_the_compatibility_message(world: World) -> None:
    world.rest.update(media_compatibility_message="[a picture]")
    channel = _channel(world, "alice", "bob")
    world.bind("bob", world.apn, "f" * 64)
    upload = world.server.http.post(
        f"/v1/Services/{world.service.sid}/Media",
        content=b"\x89PNG....",
        headers={"Content-Type": "image/png"},
        auth=(world.client.username, world.client.password),
    )
    assert upload.status_code == 201, upload.text
    world.rest.channels(channel.sid).messages.create(media_sid=upload.json()["sid"], from_="alice")
    (push,) = world.settled(1)
    assert push["body"] == "general;alice: [a picture]"


def test_membership_pushes_go_to_the_user_concerned(world: World) -> None:
    _users(world, bob="Bob", carol="Carol")
    channel = _channel(world, name="team")
    world.bind("bob", world.apn, "1" * 64)
    world.bind("carol", world.fcm, "carol-1")
    world.rest.channels(channel.sid).members.create(identity="bob")
    world.rest.channels(channel.sid).invites.create(identity="carol")
    world.rest.channels(channel.sid).members("bob").delete()
    pushes = world.settled(3)
    said = sorted((p["identity"], p["type"], p["body"]) for p in pushes)
    assert said == [
        ("bob", "added_to_channel", "You have been added to channel team by system"),
        ("bob", "removed_from_channel", "system has removed you from the channel team"),
        ("carol", "invited_to_channel", "system has invited you to join the channel team"),
    ]
    invited = world.gateways.fcm.wait(1, path="/v1/")[-1].body["message"]["data"]
    assert invited["twi_message_type"] == "twilio.channel.invited_user"
    assert invited["channel_sid"] == channel.sid and "message_sid" not in invited


def test_only_enabled_types_and_only_bindings_that_want_them(world: World) -> None:
    world.rest.update(notifications_added_to_channel_enabled=False)
    channel = _channel(world, name="quiet")
    world.bind("bob", world.apn, "2" * 64, message_types=["removed_from_channel"])
    world.bind("carol", world.apn, "3" * 64, message_types=["added_to_channel"])
    world.rest.channels(channel.sid).members.create(identity="bob")  # type disabled
    world.rest.channels(channel.sid).members.create(identity="carol")  # type disabled
    world.rest.channels(channel.sid).members.create(identity="alice")
    world.rest.channels(channel.sid).messages.create(body="x", from_="alice")  # nobody wants it
    world.rest.channels(channel.sid).members("carol").delete()  # carol does not want removals
    world.rest.channels(channel.sid).members("bob").delete()
    (push,) = world.settled(1)
    time.sleep(0.2)  # nothing else arrives
    assert len(world.pushes()) == 1
    assert (push["identity"], push["type"]) == ("bob", "removed_from_channel")


def test_a_dead_apns_device_loses_its_binding(world: World) -> None:
    world.rest.update(reachability_enabled=True)
    channel = _channel(world, "alice", "bob")
    token = "4" * 64
    binding = world.bind("bob", world.apn, token)
    world.gateways.apns.answer(token, (410, {"reason": "Unregistered"}, {}))
    world.rest.channels(channel.sid).messages.create(body="anyone?", from_="alice")
    (push,) = world.settled(1)
    assert push["state"] == "failed" and push["attempts"] == 1
    assert "Unregistered" in push["last_error"] and "binding deleted" in push["last_error"]
    assert binding["sid"] not in [b.sid for b in world.rest.bindings.list()]
    assert world.rest.users("bob").fetch().is_notifiable is False


def test_an_unregistered_fcm_token_loses_its_binding(world: World) -> None:
    channel = _channel(world, "alice", "bob")
    binding = world.bind("bob", world.fcm, "gone-token")
    error = {
        "error": {"code": 404, "status": "NOT_FOUND", "details": [{"errorCode": "UNREGISTERED"}]}
    }
    world.gateways.fcm.answer("gone-token", (404, error, {}))
    world.rest.channels(channel.sid).messages.create(body="anyone?", from_="alice")
    (push,) = world.settled(1)
    assert push["state"] == "failed" and "UNREGISTERED" in push["last_error"]
    assert binding["sid"] not in [b.sid for b in world.rest.bindings.list()]


def test_a_rejected_credential_fails_once_and_is_listed(world: World) -> None:
    channel = _channel(world, "alice", "bob")
    token = "5" * 64
    world.bind("bob", world.apn, token)
    world.gateways.apns.answer(token, (403, {"reason": "BadCertificate"}, {}))
    world.rest.channels(channel.sid).messages.create(body="x", from_="alice")
    (push,) = world.settled(1)
    time.sleep(0.3)
    (push,) = world.pushes()
    assert (push["state"], push["attempts"], push["last_status"]) == ("failed", 1, 403)
    assert len([h for h in world.gateways.apns.hits if h.path.endswith(token)]) == 1
    assert world.rest.bindings.list()  # the device is fine: the binding stays
    # `parley pushes failed` lists it, with what went wrong
    from click.testing import CliRunner

    from parley.cli import main

    args = ["pushes", "failed", "--account", world.service.account_sid]
    result = CliRunner().invoke(main, [*args, "--database-url", world.server.database_url])
    assert result.exit_code == 0, result.output
    rows = [orjson.loads(line) for line in result.output.splitlines()]
    mine = [r for r in rows if r["binding_sid"] == push["binding_sid"]]
    assert len(mine) == 1
    assert mine[0]["last_status"] == 403 and "BadCertificate" in mine[0]["last_error"]
    assert mine[0]["body"] == "general;alice: x" and mine[0]["address"] == token


def test_429_and_5xx_are_retried_honouring_retry_after(world: World) -> None:
    channel = _channel(world, "alice", "bob")
    token = "6" * 64
    world.bind("bob", world.apn, token)
    world.gateways.apns.answer(
        token,
        (429, {"reason": "TooManyRequests"}, {"retry-after": "1"}),
        (503, {"reason": "ServiceUnavailable"}, {}),
    )
    world.rest.channels(channel.sid).messages.create(body="again", from_="alice")
    (push,) = world.settled(1, timeout=15)
    assert (push["state"], push["attempts"]) == ("sent", 3)
    hits = [h for h in world.gateways.apns.hits if h.path.endswith(token)]
    assert len(hits) == 3
    assert hits[1].at - hits[0].at >= 0.95  # Retry-After: 1, not the 0.05 s back-off


def test_legacy_fcm_and_gcm_use_the_server_key(world: World) -> None:
    fcm = world.gateways.fcm
    fcm.server_keys.update({"legacy-server-key", "gcm-api-key"})
    legacy = world.client.chat.v2.credentials.create(type="fcm", secret="legacy-server-key")
    gcm = world.client.chat.v2.credentials.create(type="gcm", api_key="gcm-api-key")
    try:
        channel = _channel(world, "alice", "bob", "carol", "dave")
        world.bind("bob", legacy, "bob-legacy")
        world.bind("carol", gcm, "carol-gcm")
        world.bind("dave", legacy, "dave-legacy")
        fcm.answer(
            "dave-legacy",
            (200, {"success": 0, "failure": 1, "results": [{"error": "NotRegistered"}]}, {}),
        )
        world.rest.channels(channel.sid).messages.create(body="old school", from_="alice")
        pushes = {p["identity"]: p for p in world.settled(3)}
        assert pushes["bob"]["state"] == pushes["carol"]["state"] == "sent"
        assert pushes["dave"]["state"] == "failed"
        hits = fcm.wait(3, path="/fcm/send")
        keys = sorted(h.headers["authorization"] for h in hits)
        assert keys == ["key=gcm-api-key", "key=legacy-server-key", "key=legacy-server-key"]
        body = next(h.body for h in hits if h.body["to"] == "bob-legacy")
        assert body["data"]["twi_body"] == "general;alice: old school"
        assert body["priority"] == "high"
        assert [b.identity for b in world.rest.bindings.list()].count("dave") == 0
    finally:
        for cred in (legacy, gcm):
            world.client.chat.v2.credentials(cred.sid).delete()


def test_one_http2_connection_per_credential_and_sandbox_host(world: World) -> None:
    from tests.push.fakes import apns_certificate

    cert, key = apns_certificate(world.gateways.ca)
    sandbox = world.client.chat.v2.credentials.create(
        type="apn", certificate=cert, private_key=key, sandbox=True
    )
    try:
        names = [f"u{i}" for i in range(6)]
        channel = _channel(world, "alice", *names)
        for i, name in enumerate(names):
            world.bind(name, world.apn if i % 2 else sandbox, f"{i:064d}")
        world.rest.channels(channel.sid).messages.create(body="fan out", from_="alice")
        world.settled(6)
        hits = world.gateways.apns.wait(6, path="")
        production = [h for h in hits if h.path.startswith("/3/device/")]
        sandboxed = [h for h in hits if h.path.startswith("/sandbox/3/device/")]
        assert len(production) == len(sandboxed) == 3
        assert len({h.client for h in production}) == 1
        assert len({h.client for h in sandboxed}) == 1
        assert {h.client for h in production} != {h.client for h in sandboxed}
        assert all(f"userId={BUNDLE_ID}" in h.subject for h in hits)
    finally:
        world.client.chat.v2.credentials(sandbox.sid).delete()


def test_the_fcm_access_token_is_cached(world: World) -> None:
    channel = _channel(world, "alice", "bob", "carol")
    world.bind("bob", world.fcm, "bob-t")
    world.bind("carol", world.fcm, "carol-t")
    grants = world.gateways.fcm.grants
    world.rest.channels(channel.sid).messages.create(body="1", from_="alice")
    world.settled(2)
    world.rest.channels(channel.sid).messages.create(body="2", from_="alice")
    world.settled(4)
    assert world.gateways.fcm.grants == grants + 1


def test_a_refused_token_grant_fails_the_push(world: World) -> None:
    account = world.gateways.fcm.service_account()
    account["private_key"] = world.gateways.fcm.service_account()["private_key"]  # wrong key
    bad = world.client.chat.v2.credentials.create(type="fcm", secret=orjson.dumps(account).decode())
    try:
        channel = _channel(world, "alice", "bob")
        world.bind("bob", bad, "bob-bad")
        world.rest.channels(channel.sid).messages.create(body="1", from_="alice")
        (push,) = world.settled(1)
        assert push["state"] == "failed" and "token grant refused" in push["last_error"]
        assert push["attempts"] == 1
    finally:
        world.client.chat.v2.credentials(bad.sid).delete()


def test_apns_requires_the_client_certificate(fake_gateways: Any) -> None:
    import ssl

    import httpx

    context = ssl.create_default_context(cafile=fake_gateways.ca_file)
    with httpx.Client(http2=True, verify=context) as bare, pytest.raises(httpx.HTTPError):
        bare.post(f"{fake_gateways.apns.url}/3/device/{'7' * 64}", json={"aps": {}})


def test_log_enabled_adds_the_text(world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="parley.push")
    channel = _channel(world, "alice", "bob")
    world.bind("bob", world.apn, "8" * 64)
    world.rest.channels(channel.sid).messages.create(body="quiet one", from_="alice")
    world.settled(1)
    world.rest.update(notifications_log_enabled=True)
    world.rest.channels(channel.sid).messages.create(body="loud one", from_="alice")
    world.settled(2)
    lines = [r.getMessage() for r in caplog.records if r.name == "parley.push"]
    assert len(lines) == 2 and all("-> sent" in line for line in lines)
    assert "quiet one" not in lines[0] and "text='general;alice: loud one'" in lines[1]


def test_a_client_action_pushes_as_rest_does(world: World) -> None:
    """A message sent by a client (the real-time action, here simulated) is by
    its identity: the author is skipped and named in the text."""
    _users(world, alice="Alice A", bob="Bob")
    channel = _channel(world, "alice", "bob")
    world.bind("alice", world.apn, "c" * 64)
    world.bind("bob", world.fcm, "bob-client")
    sent = world.server.http.post(
        "/parley/v1/simulate/message",
        json={
            "service_sid": world.service.sid,
            "identity": "alice",
            "channel": channel.sid,
            "body": "typed on my phone",
        },
        auth=(world.client.username, world.client.password),
    )
    assert sent.status_code == 200, sent.text
    (push,) = world.settled(1)
    assert push["identity"] == "bob" and push["body"] == "general;Alice A: typed on my phone"
    assert push["data"]["message_sid"] == sent.json()["sid"]


def test_the_push_record_refuses_bad_filters(world: World) -> None:
    auth = (world.client.username, world.client.password)
    for query in ({"state": "bogus"}, {"limit": "0"}, {"limit": "x"}):
        answer = world.server.http.get("/parley/v1/pushes", params=query, auth=auth)
        assert answer.status_code == 400 and answer.json()["code"] == 20001, answer.text
    listed = world.server.http.get("/parley/v1/pushes", auth=auth).json()["pushes"]
    assert all(p["account_sid"] == world.service.account_sid for p in listed)
    none = world.server.http.get("/parley/v1/pushes", params={"type": "nope"}, auth=auth)
    assert none.json() == {"pushes": []}


def test_metrics_count_pushes(world: World) -> None:
    def metrics() -> dict[str, float]:
        text = world.server.http.get("/metrics").text
        return {
            line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("parley_push_")
        }

    before = metrics().get('parley_push_attempts_total{outcome="sent"}', 0.0)
    channel = _channel(world, "alice", "bob")
    world.bind("bob", world.apn, "ab" * 32)
    world.rest.channels(channel.sid).messages.create(body="counted", from_="alice")
    world.settled(1)
    after = metrics()
    assert after['parley_push_attempts_total{outcome="sent"}'] == before + 1
    assert "parley_push_queue_depth" in after
