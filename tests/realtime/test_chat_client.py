"""Client actions through the tunnel: one write path with REST, role checks
(docs/behaviour.md §A5), pre-event and post-event webhooks (docs/behaviour.md §W4-§W5)."""

import time
from collections.abc import Iterator
from typing import Any

import pytest
from twilio.rest import Client

from tests.conftest import Account, Server
from tests.realtime.helpers import Twilsock, make_key, token
from tests.webhooks.conftest import fast  # noqa: F401 (fixture)
from tests.webhooks.receiver import Received, Receiver

BASE = "/Client/v1/Services/{}"


@pytest.fixture
def connect(server: Server, account: Account, service: Any) -> Iterator[Any]:
    key = make_key(server, account.sid)
    opened: list[Twilsock] = []

    def open_as(identity: str) -> Twilsock:
        sock = Twilsock(server)
        reply, _ = sock.init(token(account.sid, key, identity, service.sid))
        assert reply["status"]["code"] == 200
        opened.append(sock)
        return sock

    yield open_as
    for sock in opened:
        sock.close()


def conversations(service: Any) -> str:
    return BASE.format(service.sid) + "/Conversations"


def test_a_client_created_channel_is_the_rest_channel_with_its_creator_joined(
    client: Client, service: Any, connect: Any
) -> None:
    alice = connect("alice")
    status, made = alice.request(
        "POST", conversations(service), {"type": "private", "friendly_name": "ops"}
    )
    assert status == 201, made
    assert made["links"]["participants"].endswith(f"/Conversations/{made['sid']}/Participants")
    channel = client.chat.v2.services(service.sid).channels(made["sid"]).fetch()
    assert (channel.type, channel.created_by, channel.friendly_name) == ("private", "alice", "ops")
    members = client.chat.v2.services(service.sid).channels(made["sid"]).members.list()
    assert [(m.identity, m.role_sid) for m in members] == [
        ("alice", service.default_channel_creator_role_sid)
    ]
    # private: invisible to others, and nobody joins it uninvited
    bob = connect("bob")
    status, hidden = bob.request("GET", f"{conversations(service)}/{made['sid']}")
    assert (status, hidden["code"]) == (400, 50300)
    status, _ = bob.request("GET", f"{conversations(service)}")
    assert status == 200


def test_role_checks(client: Client, service: Any, connect: Any) -> None:
    svc = client.chat.v2.services(service.sid)
    channel = svc.channels.create(friendly_name="general")
    mute = svc.roles.create(friendly_name="mute", type="channel", permission=["leaveChannel"])
    svc.channels(channel.sid).members.create(identity="carol", role_sid=mute.sid)
    url = f"{conversations(service)}/{channel.sid}/Messages"

    bob = connect("bob")
    status, body = bob.request("POST", url, {"body": "not a member"})
    assert (status, body["code"]) == (403, 50400)
    carol = connect("carol")
    status, body = carol.request("POST", url, {"body": "no sendMessage"})
    assert (status, body["code"], body["status"]) == (403, 50107, 403)
    assert svc.channels(channel.sid).messages.list() == []
    # bob may join the public channel (joinChannel), then send
    status, _ = bob.request(
        "POST", f"{conversations(service)}/{channel.sid}/Participants", {"identity": "bob"}
    )
    assert status == 201
    status, sent = bob.request("POST", url, {"body": "hello", "attributes": '{"a": 1}'})
    assert (status, sent["index"]) == (201, 0)
    stored = svc.channels(channel.sid).messages.list()
    assert [(m._from, m.body, m.attributes) for m in stored] == [("bob", "hello", '{"a": 1}')]
    # ... but not remove carol, nor rename the channel (channel user role)
    status, body = bob.request(
        "DELETE", f"{conversations(service)}/{channel.sid}/Participants/carol"
    )
    assert (status, body["code"]) == (403, 50107)
    status, body = bob.request(
        "POST", f"{conversations(service)}/{channel.sid}", {"friendly_name": "x"}
    )
    assert (status, body["code"]) == (403, 50107)
    # the same limits and codes as REST
    status, body = bob.request("POST", url, {"body": "x", "attributes": "{not json"})
    assert (status, body["code"]) == (400, 50304)


def _hooked(client: Client, service: Any, hooks: Receiver, *events: str) -> None:
    client.chat.v2.services(service.sid).update(
        pre_webhook_url=hooks.url("/pre"),
        post_webhook_url=hooks.url("/post"),
        webhook_filters=list(events),
    )


def test_pre_event_modifies_and_post_event_reports_the_client_action(
    client: Client,
    service: Any,
    connect: Any,
    receiver: Receiver,
    fast: Server,  # noqa: F811
) -> None:
    svc = client.chat.v2.services(service.sid)
    channel = svc.channels.create(friendly_name="general")
    svc.channels(channel.sid).members.create(identity="alice")
    _hooked(client, service, receiver, "onMessageSend", "onMessageSent")
    receiver.reply = lambda r: (200, b'{"body": "[redacted]"}') if r.path == "/pre" else 200
    alice = connect("alice")
    status, sent = alice.request(
        "POST", f"{conversations(service)}/{channel.sid}/Messages", {"body": "secret"}
    )
    assert (status, sent["body"]) == (201, "[redacted]")

    def post(r: Received) -> bool:
        return r.path == "/post"

    pre = receiver.wait_for(1, where=lambda r: r.path == "/pre")[0].params
    assert (pre["EventType"], pre["Body"], pre["ClientIdentity"]) == (
        "onMessageSend",
        "secret",
        "alice",
    )
    delivered = receiver.wait_for(1, where=post)[0].params
    assert (delivered["EventType"], delivered["Source"]) == ("onMessageSent", "SDK")
    assert (delivered["Body"], delivered["ClientIdentity"]) == ("[redacted]", "alice")


def test_a_rejecting_pre_event_stores_nothing(
    client: Client,
    service: Any,
    connect: Any,
    receiver: Receiver,
    fast: Server,  # noqa: F811
) -> None:
    svc = client.chat.v2.services(service.sid)
    channel = svc.channels.create(friendly_name="general")
    svc.channels(channel.sid).members.create(identity="alice")
    _hooked(client, service, receiver, "onMessageSend", "onMessageSent")
    receiver.reply = lambda r: 403 if r.path == "/pre" else 200
    alice = connect("alice")
    status, body = alice.request(
        "POST", f"{conversations(service)}/{channel.sid}/Messages", {"body": "no"}
    )
    assert (status, body["code"]) == (403, 20403)
    assert svc.channels(channel.sid).messages.list() == []
    assert [r.path for r in receiver.quiet(0.3)] == ["/pre"]


def test_reachability_follows_the_sockets(client: Client, service: Any, connect: Any) -> None:
    svc = client.chat.v2.services(service.sid)
    svc.update(reachability_enabled=True)
    alice = connect("alice")
    assert svc.users("alice").fetch().is_online is True
    alice.close()
    deadline = time.monotonic() + 5
    while svc.users("alice").fetch().is_online is not False:
        assert time.monotonic() < deadline, "still online after the socket closed"
        time.sleep(0.05)


def test_push_registration_becomes_a_binding_and_makes_the_user_notifiable(
    client: Client, service: Any, connect: Any
) -> None:
    svc = client.chat.v2.services(service.sid)
    alice = connect("alice")
    registration = {
        "endpoint_platform": "android",
        "channel_type": "fcm",
        "version": "4",
        "message_types": ["twilio.channel.new_message", "twilio.channel.consumption_update"],
        "data": {"registration_id": "device-token-1"},
    }
    status, made = alice.request(
        "POST",
        "/v1/registrations",
        registration,
        params={"productId": "ip_messaging"},
        host="ers.us1.twilio.com",
    )
    assert status == 200, made
    binding = svc.bindings(made["id"]).fetch()
    assert (binding.identity, binding.binding_type, binding.endpoint) == (
        "alice",
        "fcm",
        "device-token-1",
    )
    assert binding.message_types == ["new_message"]
    user = svc.users("alice").fetch()
    status, info = alice.request(
        "GET", f"/v3/Maps/{user.sid}.info/Items/reachability", host="cds.us1.twilio.com"
    )
    assert (status, info["data"]["notifiable"]) == (200, True)

    bob = connect("bob")
    status, _ = bob.request("DELETE", f"/v1/registrations/{made['id']}")
    assert status == 404  # not bob's
    status, _ = alice.request("DELETE", f"/v1/registrations/{made['id']}")
    assert status == 204
    assert svc.bindings.list() == []
    status, info = alice.request("GET", f"/v3/Maps/{user.sid}.info/Items/reachability")
    assert info["data"]["notifiable"] is False


def test_pre_event_replacements_apply_to_a_join(
    client: Client,
    service: Any,
    connect: Any,
    receiver: Receiver,
    fast: Server,  # noqa: F811
) -> None:
    svc = client.chat.v2.services(service.sid)
    channel = svc.channels.create(friendly_name="general")
    _hooked(client, service, receiver, "onMemberAdd")
    receiver.reply = lambda r: (200, b'{"attributes": "{\\"vip\\": true}"}')
    bob = connect("bob")
    status, joined = bob.request(
        "POST", f"{conversations(service)}/{channel.sid}/Participants", {"identity": "bob"}
    )
    assert status == 201, joined
    member = svc.channels(channel.sid).members("bob").fetch()
    assert member.attributes == '{"vip": true}'
    pre = receiver.wait_for(1)[0].params
    assert (pre["EventType"], pre["Identity"], pre["ChannelSid"]) == (
        "onMemberAdd",
        "bob",
        channel.sid,
    )


def test_the_public_channel_directory_pages_forward_and_back(
    client: Client, service: Any, connect: Any
) -> None:
    svc = client.chat.v2.services(service.sid)
    made = [svc.channels.create(friendly_name=f"room {i:02}").sid for i in range(53)]
    svc.channels.create(friendly_name="hidden", type="private")
    alice = connect("alice")
    status, first = alice.request("GET", conversations(service))
    assert status == 200
    assert [c["sid"] for c in first["conversations"]] == made[:50]
    assert first["meta"]["previous_token"] is None and first["meta"]["next_token"]
    status, second = alice.request(
        "GET", conversations(service), params={"PageToken": first["meta"]["next_token"]}
    )
    assert [c["sid"] for c in second["conversations"]] == made[50:]
    assert second["meta"]["next_token"] is None and second["meta"]["previous_token"]
    status, back = alice.request(
        "GET", conversations(service), params={"PageToken": second["meta"]["previous_token"]}
    )
    assert [c["sid"] for c in back["conversations"]] == made[:50]
    assert back["meta"]["previous_token"] is None
    assert back["meta"]["next_token"] == first["meta"]["next_token"]
    status, body = alice.request("GET", conversations(service), params={"PageToken": "nope"})
    assert (status, body["code"]) == (400, 20001)


def test_a_channels_user_list_pages_back_with_prev_token(
    client: Client, service: Any, connect: Any
) -> None:
    svc = client.chat.v2.services(service.sid)
    channel = svc.channels.create(friendly_name="crowd")
    for i in range(51):
        svc.channels(channel.sid).members.create(identity=f"user{i:02}")
    member = connect("user00")
    url = BASE.format(service.sid) + "/Users"
    status, first = member.request("GET", url, params={"ConversationSid": channel.sid})
    assert status == 200 and len(first["users"]) == 50 and first["meta"]["prev_token"] is None
    params = {"ConversationSid": channel.sid, "PageToken": first["meta"]["next_token"]}
    status, second = member.request("GET", url, params=params)
    assert [u["identity"] for u in second["users"]] == ["user50"]
    params["PageToken"] = second["meta"]["prev_token"]
    status, back = member.request("GET", url, params=params)
    assert [u["identity"] for u in back["users"]] == [u["identity"] for u in first["users"]]


@pytest.mark.parametrize("kind", ["public", "private"])
def test_joining_a_channel_one_is_in_answers_member_already_exists(
    client: Client, service: Any, connect: Any, kind: str
) -> None:
    alice = connect("alice")
    status, made = alice.request("POST", conversations(service), {"type": kind})
    assert status == 201
    # the creator is joined by the create; joining again is a conflict, as with Twilio
    url = f"{conversations(service)}/{made['sid']}/Participants"
    status, body = alice.request("POST", url, {"identity": "alice"})
    assert (status, body["code"], body["status"]) == (409, 50404, 409)
    members = client.chat.v2.services(service.sid).channels(made["sid"]).members.list()
    assert [m.identity for m in members] == ["alice"]
