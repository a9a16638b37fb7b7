"""Member resource (docs/behaviour.md §R4, §L1)."""

from datetime import UTC, datetime
from typing import Any

import pytest
from twilio.rest import Client

from tests.api.chat_fixtures import Captured, stored, twilio_error
from tests.conftest import Server


def _svc(client: Client, service: Any) -> Any:
    return client.chat.v2.services(service.sid)


def test_add_creates_the_user(client: Client, service: Any, channel: Any, events: Captured) -> None:
    svc = _svc(client, service)
    member = svc.channels(channel.sid).members.create(
        identity="alice", x_twilio_webhook_enabled="true"
    )
    assert member.sid.startswith("MB") and member.identity == "alice"
    assert member.channel_sid == channel.sid and member.service_sid == service.sid
    assert member.role_sid == service.default_channel_role_sid
    assert member.attributes == "{}" and member.date_updated is None
    assert member.last_consumed_message_index is None
    assert member.last_consumption_timestamp is None
    assert member.url == f"{channel.url}/Members/{member.sid}"
    assert svc.channels(channel.sid).fetch().members_count == 1
    kinds = [k for k in events.kinds() if k in ("onUserAdded", "onMemberAdded")]
    assert kinds == ["onUserAdded", "onMemberAdded"]
    [added] = events.of("onMemberAdded")
    assert added.payload["reason"] == "ADDED" and added.webhooks is True
    assert added.channel_sid == channel.sid
    user = events.of("onUserAdded")[0].payload
    assert user["identity"] == "alice" and user["role_sid"] == service.default_service_role_sid
    assert added.payload["user_sid"] == user["sid"]


def test_add_with_everything(client: Client, service: Any, channel: Any) -> None:
    svc = _svc(client, service)
    admin = service.default_channel_creator_role_sid
    when = datetime(2018, 5, 6, 7, 8, 9, tzinfo=UTC)
    member = svc.channels(channel.unique_name or channel.sid).members.create(
        identity="bob",
        role_sid=admin,
        attributes='{"nick": "b"}',
        last_consumed_message_index=4,
        last_consumption_timestamp=when,
        date_created=when,
        date_updated=when,
    )
    assert member.role_sid == admin and member.attributes == '{"nick": "b"}'
    assert member.last_consumed_message_index == 4
    assert member.last_consumption_timestamp == when
    assert member.date_created == when and member.date_updated == when


def test_fetch_update_delete_by_sid_and_identity(
    client: Client, service: Any, events: Captured, server: Server
) -> None:
    svc = _svc(client, service)
    created_channel = svc.channels.create(unique_name="room")
    members = svc.channels("room").members
    member = members.create(identity="carol")
    assert members("carol").fetch().sid == member.sid
    assert members(member.sid).fetch().identity == "carol"

    updated = members("carol").update(
        attributes='{"x": 1}', last_consumed_message_index=7, x_twilio_webhook_enabled="true"
    )
    assert updated.attributes == '{"x": 1}' and updated.last_consumed_message_index == 7
    # the index without a timestamp stamps now (docs/behaviour.md §R4)
    assert updated.last_consumption_timestamp is not None
    assert updated.date_updated is not None and updated.role_sid == member.role_sid
    [event] = events.of("onMemberUpdated")
    assert event.payload["last_consumed_message_index"] == 7 and event.webhooks

    members(member.sid).delete()
    with twilio_error(20404, 404):
        members("carol").fetch()
    with twilio_error(20404, 404):
        members(member.sid).delete()
    assert svc.channels(created_channel.sid).fetch().members_count == 0
    [removed] = events.of("onMemberRemoved")
    assert removed.payload["reason"] == "REMOVED" and removed.payload["sid"] == member.sid
    # the user stays
    assert [u["identity"] for u in stored(server, "users", service_sid=service.sid)] == ["carol"]


def test_horizon_reset_with_empty_value(client: Client, service: Any, channel: Any) -> None:
    members = _svc(client, service).channels(channel.sid).members
    member = members.create(identity="dora", last_consumed_message_index=3)
    # twilio-node sends "LastConsumedMessageIndex=" for null (docs/behaviour.md §C3.1)
    response = client.request("POST", member.url, data={"LastConsumedMessageIndex": ""})
    assert response.status_code == 200
    assert members(member.sid).fetch().last_consumed_message_index is None


def test_update_role(client: Client, service: Any, channel: Any) -> None:
    members = _svc(client, service).channels(channel.sid).members
    member = members.create(identity="erin")
    admin = service.default_channel_creator_role_sid
    assert members(member.sid).update(role_sid=admin).role_sid == admin
    with twilio_error(50101, 400):
        members(member.sid).update(role_sid=service.default_service_role_sid)
    assert members(member.sid).fetch().role_sid == admin


def test_adding_twice_is_409(client: Client, service: Any, channel: Any) -> None:
    members = _svc(client, service).channels(channel.sid).members
    members.create(identity="frank")
    with twilio_error(50404, 409):
        members.create(identity="frank")
    assert len(members.list()) == 1
    assert _svc(client, service).channels(channel.sid).fetch().members_count == 1


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"role_sid": "RL" + "0" * 32}, 50101),
        ({"role_sid": "not-a-role"}, 50101),
        ({"attributes": "nope"}, 50304),
        ({"attributes": '"' + "a" * 16_384 + '"'}, 50303),
        ({"last_consumed_message_index": -1}, 50406),
        ({"last_consumed_message_index": "x"}, 50406),
        ({"last_consumption_timestamp": "soon"}, 50405),
        ({"date_created": "then"}, 50308),
        ({"date_updated": "then"}, 50309),
        ({"identity": "US" + "1" * 32}, 50206),
        ({"identity": "i" * 257}, 50207),
    ],
)
def test_add_rejects_bad_input(
    client: Client, service: Any, channel: Any, kwargs: dict[str, Any], code: int
) -> None:
    svc = _svc(client, service)
    with twilio_error(code, 400):
        svc.channels(channel.sid).members.create(**{"identity": "gina", **kwargs})
    assert svc.channels(channel.sid).members.list() == []
    assert svc.channels(channel.sid).fetch().members_count == 0


def test_deployment_role_is_refused(client: Client, service: Any, channel: Any) -> None:
    members = _svc(client, service).channels(channel.sid).members
    with twilio_error(50101, 400):
        members.create(identity="hal", role_sid=service.default_service_role_sid)


def test_missing_identity(client: Client, service: Any, channel: Any) -> None:
    response = client.request("POST", f"{channel.url}/Members", data={})
    assert response.status_code == 400
    assert "Missing required parameter Identity" in response.text


def test_missing_channel(client: Client, service: Any) -> None:
    with twilio_error(20404, 404):
        _svc(client, service).channels("nowhere").members.create(identity="ivy")
    with twilio_error(20404, 404):
        _svc(client, service).channels("CH" + "0" * 32).members("ivy").fetch()


def test_list_identity_filter_and_pages(client: Client, service: Any, channel: Any) -> None:
    members = _svc(client, service).channels(channel.sid).members
    sids = [members.create(identity=f"user{i}").sid for i in range(5)]
    assert [m.sid for m in members.list(page_size=2)] == sids
    picked = members.list(identity=["user3", "user1", "nobody"])
    assert [m.identity for m in picked] == ["user1", "user3"]


def test_channel_member_limit(client: Client, service: Any, channel: Any) -> None:
    svc = _svc(client, service)
    svc.update(limits_channel_members=2)
    members = svc.channels(channel.sid).members
    members.create(identity="a")
    members.create(identity="b")
    with twilio_error(50403, 403):
        members.create(identity="c")
    assert [m.identity for m in members.list()] == ["a", "b"]
    assert svc.channels(channel.sid).fetch().members_count == 2


def test_user_channel_limit(client: Client, service: Any) -> None:
    svc = _svc(client, service)
    svc.update(limits_user_channels=2)
    rooms = [svc.channels.create(friendly_name=f"r{i}").sid for i in range(3)]
    svc.channels(rooms[0]).members.create(identity="joiner")
    svc.channels(rooms[1]).members.create(identity="joiner")
    with twilio_error(50208, 403):
        svc.channels(rooms[2]).members.create(identity="joiner")
    assert svc.channels(rooms[2]).fetch().members_count == 0
    # leaving one makes room again
    svc.channels(rooms[0]).members("joiner").delete()
    assert svc.channels(rooms[2]).members.create(identity="joiner").identity == "joiner"


def test_joined_channels_count_follows(client: Client, service: Any, server: Server) -> None:
    svc = _svc(client, service)
    rooms = [svc.channels.create(friendly_name=f"r{i}").sid for i in range(3)]
    for room in rooms:
        svc.channels(room).members.create(identity="counted")

    def count() -> int:
        [user] = stored(server, "users", service_sid=service.sid, identity="counted")
        return int(user["joined_channels_count"])

    assert count() == 3
    svc.channels(rooms[0]).members("counted").delete()
    assert count() == 2
    svc.channels(rooms[1]).delete()
    assert count() == 1


def test_member_of_another_channel_is_not_found(client: Client, service: Any) -> None:
    svc = _svc(client, service)
    one, two = svc.channels.create().sid, svc.channels.create().sid
    member = svc.channels(one).members.create(identity="jo")
    with twilio_error(20404, 404):
        svc.channels(two).members(member.sid).fetch()
    with twilio_error(20404, 404):
        svc.channels(two).members("jo").fetch()
