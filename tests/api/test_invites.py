"""Invite resource (docs/behaviour.md §R6, docs/decisions.md §26-§28)."""

import json
from typing import Any

import pytest
from twilio.rest import Client

from tests.api.chat_fixtures import Captured, make_user, twilio_error
from tests.conftest import Server


def _invites(client: Client, service: Any, channel: Any) -> Any:
    return client.chat.v2.services(service.sid).channels(channel.sid).invites


def test_create_fetch_list_delete(
    client: Client, server: Server, service: Any, channel: Any, events: Captured
) -> None:
    make_user(server, service.sid, "alice")
    invites = _invites(client, service, channel)
    invite = invites.create(identity="alice")
    assert invite.sid.startswith("IN") and invite.identity == "alice"
    assert invite.role_sid == service.default_channel_role_sid
    assert invite.created_by == "system" and invite.date_updated is None
    assert invite.channel_sid == channel.sid and invite.service_sid == service.sid
    assert invite.url == f"{channel.url}/Invites/{invite.sid}"
    assert invites(invite.sid).fetch().identity == "alice"
    assert [i.sid for i in invites.list()] == [invite.sid]
    invites(invite.sid).delete()
    with twilio_error(20404, 404):
        invites(invite.sid).fetch()
    assert invites.list() == []
    assert [e.kind for e in events if e.kind.startswith("parley.invite")] == [
        "parley.invite.created",
        "parley.invite.deleted",
    ]
    assert all(e.channel_sid == channel.sid for e in events.of("parley.invite.created"))


def test_role(client: Client, server: Server, service: Any, channel: Any) -> None:
    make_user(server, service.sid, "bob")
    make_user(server, service.sid, "bo")
    invites = _invites(client, service, channel)
    admin = service.default_channel_creator_role_sid
    assert invites.create(identity="bob", role_sid=admin).role_sid == admin
    with twilio_error(50101, 400):
        invites.create(identity="bo", role_sid=service.default_service_role_sid)
    with twilio_error(50101, 400):
        invites.create(identity="bo", role_sid="RL" + "f" * 32)
    assert [i.identity for i in invites.list()] == ["bob"]


def test_twice_is_409(client: Client, server: Server, service: Any, channel: Any) -> None:
    make_user(server, service.sid, "carol")
    invites = _invites(client, service, channel)
    invites.create(identity="carol")
    with twilio_error(50212, 409):
        invites.create(identity="carol")
    assert len(invites.list()) == 1


def test_unknown_identity_is_20404(client: Client, service: Any, channel: Any) -> None:
    # docs/decisions.md §26: what Twilio answered (twilio-ruby issue 305)
    invites = _invites(client, service, channel)
    response = client.request("POST", f"{channel.url}/Invites", data={"Identity": "ghost"})
    assert response.status_code == 404
    assert f"/Services/{service.sid}/Channels/{channel.sid}/Invites was not found" in (
        response.text
    )
    assert invites.list() == []


def test_member_cannot_be_invited(client: Client, service: Any, channel: Any) -> None:
    svc = client.chat.v2.services(service.sid)
    svc.channels(channel.sid).members.create(identity="dora")
    with twilio_error(50404, 409):
        svc.channels(channel.sid).invites.create(identity="dora")


def test_becoming_a_member_removes_the_invite(
    client: Client, server: Server, service: Any, channel: Any, events: Captured
) -> None:
    make_user(server, service.sid, "erin")
    make_user(server, service.sid, "other")
    svc = client.chat.v2.services(service.sid)
    invites = svc.channels(channel.sid).invites
    invite = invites.create(identity="erin")
    kept = invites.create(identity="other")
    svc.channels(channel.sid).members.create(identity="erin")
    assert [i.sid for i in invites.list()] == [kept.sid]
    [deleted] = events.of("parley.invite.deleted")
    assert deleted.payload["sid"] == invite.sid and deleted.payload["reason"] == "accepted"


def test_list_identity_filter(client: Client, server: Server, service: Any, channel: Any) -> None:
    invites = _invites(client, service, channel)
    for name in ("f1", "f2", "f3"):
        make_user(server, service.sid, name)
        invites.create(identity=name)
    assert [i.identity for i in invites.list(identity=["f3", "f1"])] == ["f1", "f3"]
    assert [i.identity for i in invites.list(page_size=1)] == ["f1", "f2", "f3"]


@pytest.mark.parametrize("identity", ["", "x" * 257])
def test_bad_identity(client: Client, service: Any, channel: Any, identity: str) -> None:
    response = client.request("POST", f"{channel.url}/Invites", data={"Identity": identity})
    assert response.status_code == 400
    assert json.loads(response.text)["code"] == (20001 if identity == "" else 50207)


def test_invite_of_another_channel_is_not_found(
    client: Client, server: Server, service: Any
) -> None:
    make_user(server, service.sid, "gus")
    svc = client.chat.v2.services(service.sid)
    one, two = svc.channels.create().sid, svc.channels.create().sid
    invite = svc.channels(one).invites.create(identity="gus")
    with twilio_error(20404, 404):
        svc.channels(two).invites(invite.sid).fetch()
    with twilio_error(20404, 404):
        svc.channels(two).invites(invite.sid).delete()
    assert svc.channels(one).invites(invite.sid).fetch().sid == invite.sid


def test_channel_delete_removes_invites_and_members(
    client: Client, server: Server, service: Any
) -> None:
    make_user(server, service.sid, "hal")
    svc = client.chat.v2.services(service.sid)
    room = svc.channels.create(unique_name="gone")
    invite = svc.channels("gone").invites.create(identity="hal")
    svc.channels("gone").members.create(identity="ivy")
    svc.channels("gone").delete()
    fresh = svc.channels.create(unique_name="gone")
    assert fresh.sid != room.sid
    assert svc.channels("gone").invites.list() == []
    assert svc.channels("gone").members.list() == []
    with twilio_error(20404, 404):
        svc.channels(room.sid).invites(invite.sid).fetch()
