"""Role resource (docs/behaviour.md §R7, §A)."""

from typing import Any

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client


def test_default_role_permissions(client: Client, service: Any) -> None:
    roles = {r.friendly_name: r for r in client.chat.v2.services(service.sid).roles.list()}
    assert roles["service user"].type == "deployment"
    assert roles["service user"].permissions == ["createChannel", "joinChannel", "editOwnUserInfo"]
    assert len(roles["service admin"].permissions) == 13
    assert roles["channel admin"].type == "channel"
    assert len(roles["channel admin"].permissions) == 14
    assert roles["channel user"].permissions == [
        "sendMessage",
        "sendMediaMessage",
        "leaveChannel",
        "editNotificationLevel",
        "editOwnMemberAttributes",
        "editOwnMessage",
        "editOwnMessageAttributes",
        "deleteOwnMessage",
    ]


def test_crud(client: Client, service: Any) -> None:
    roles = client.chat.v2.services(service.sid).roles
    role = roles.create(
        friendly_name="moderator", type="channel", permission=["sendMessage", "deleteAnyMessage"]
    )
    assert role.sid.startswith("RL") and role.date_updated is None
    assert role.url == f"{client.chat.base_url}/v2/Services/{service.sid}/Roles/{role.sid}"
    assert roles(role.sid).fetch().permissions == ["sendMessage", "deleteAnyMessage"]
    updated = roles(role.sid).update(permission=["leaveChannel"])
    assert updated.permissions == ["leaveChannel"]
    assert updated.friendly_name == "moderator" and updated.date_updated is not None
    roles(role.sid).delete()
    with pytest.raises(TwilioRestException) as raised:
        roles(role.sid).fetch()
    assert raised.value.code == 20404


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"type": "channel", "permission": ["createChannel"]}, 50104),
        ({"type": "deployment", "permission": ["sendMessage"]}, 50104),
        ({"type": "deployment", "permission": ["noSuchThing"]}, 50104),
        ({"type": "global", "permission": ["sendMessage"]}, 50105),
        ({"type": "channel", "permission": []}, 20001),
    ],
)
def test_create_validates(client: Client, service: Any, kwargs: dict[str, Any], code: int) -> None:
    with pytest.raises(TwilioRestException) as raised:
        client.chat.v2.services(service.sid).roles.create(friendly_name="bad", **kwargs)
    assert raised.value.code == code and raised.value.status == 400
    names = [r.friendly_name for r in client.chat.v2.services(service.sid).roles.list()]
    assert "bad" not in names


def test_friendly_name_limit(client: Client, service: Any) -> None:
    with pytest.raises(TwilioRestException) as raised:
        client.chat.v2.services(service.sid).roles.create(
            friendly_name="x" * 65, type="channel", permission=["sendMessage"]
        )
    assert raised.value.code == 50003


def test_update_validates_against_type(client: Client, service: Any) -> None:
    sid = service.default_service_role_sid
    with pytest.raises(TwilioRestException) as raised:
        client.chat.v2.services(service.sid).roles(sid).update(permission=["sendMessage"])
    assert raised.value.code == 50104
    perms = client.chat.v2.services(service.sid).roles(sid).fetch().permissions
    assert perms == ["createChannel", "joinChannel", "editOwnUserInfo"]


def test_default_roles_cannot_be_deleted(client: Client, service: Any) -> None:
    for sid in (
        service.default_service_role_sid,
        service.default_channel_role_sid,
        service.default_channel_creator_role_sid,
    ):
        with pytest.raises(TwilioRestException) as raised:
            client.chat.v2.services(service.sid).roles(sid).delete()
        assert raised.value.status == 400 and raised.value.code == 50100
        assert "in use" in raised.value.msg
        assert client.chat.v2.services(service.sid).roles(sid).fetch().sid == sid


def test_repointed_default_can_be_deleted(client: Client, service: Any) -> None:
    roles = client.chat.v2.services(service.sid).roles
    new = roles.create(friendly_name="users2", type="deployment", permission=["joinChannel"])
    old = service.default_service_role_sid
    client.chat.v2.services(service.sid).update(default_service_role_sid=new.sid)
    roles(old).delete()
    assert old not in {r.sid for r in roles.list()}


@pytest.mark.parametrize("holder", ["user", "member", "invite"])
def test_a_held_role_cannot_be_deleted(client: Client, service: Any, holder: str) -> None:
    svc = client.chat.v2.services(service.sid)
    kind, permission = (
        ("deployment", "joinChannel") if holder == "user" else ("channel", "sendMessage")
    )
    role = svc.roles.create(friendly_name="held", type=kind, permission=[permission])
    svc.users.create(identity="alice", role_sid=role.sid if holder == "user" else None)
    channel = svc.channels.create(unique_name="room")
    if holder == "member":
        svc.channels(channel.sid).members.create(identity="alice", role_sid=role.sid)
    elif holder == "invite":
        svc.channels(channel.sid).invites.create(identity="alice", role_sid=role.sid)
    with pytest.raises(TwilioRestException) as raised:
        svc.roles(role.sid).delete()
    assert raised.value.status == 400 and raised.value.code == 50100
    assert f"{'an' if holder == 'invite' else 'a'} {holder} holds it" in raised.value.msg
    assert svc.roles(role.sid).fetch().sid == role.sid


def test_roles_of_another_service_are_404(client: Client, make_service: Any) -> None:
    one, two = make_service(), make_service()
    with pytest.raises(TwilioRestException) as raised:
        client.chat.v2.services(one.sid).roles(two.default_service_role_sid).fetch()
    assert raised.value.status == 404
