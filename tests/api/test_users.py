"""User resource through the official SDK (docs/behaviour.md §R8)."""

from typing import Any

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from tests.conftest import Server
from tests.helpers import captured_events, register_binding


def test_create_defaults(client: Client, service: Any) -> None:
    user = client.chat.v2.services(service.sid).users.create(identity="alice")
    assert user.sid.startswith("US") and len(user.sid) == 34
    assert user.identity == "alice"
    assert user.role_sid == service.default_service_role_sid
    assert user.attributes == "{}" and user.friendly_name is None
    assert user.joined_channels_count == 0
    assert user.date_created is not None and user.date_updated is None
    # reachability is off by default: both null (docs/behaviour.md §R8)
    assert user.is_online is None and user.is_notifiable is None
    base = f"{client.chat.base_url}/v2/Services/{service.sid}/Users/{user.sid}"
    assert user.url == base
    assert user.links == {"user_channels": base + "/Channels", "user_bindings": base + "/Bindings"}


def test_create_with_every_parameter(client: Client, service: Any) -> None:
    role = client.chat.v2.services(service.sid).roles.create(
        friendly_name="ops", type="deployment", permission=["createChannel"]
    )
    user = client.chat.v2.services(service.sid).users.create(
        identity="bob", role_sid=role.sid, attributes='{"a": 1}', friendly_name="Bob"
    )
    assert (user.role_sid, user.attributes, user.friendly_name) == (role.sid, '{"a": 1}', "Bob")


def test_fetch_update_delete_by_sid_or_identity(client: Client, service: Any) -> None:
    users = client.chat.v2.services(service.sid).users
    user = users.create(identity="carol")
    assert users("carol").fetch().sid == user.sid
    assert users(user.sid).fetch().identity == "carol"
    updated = users("carol").update(friendly_name="Carol", attributes='{"x": true}')
    assert updated.friendly_name == "Carol" and updated.attributes == '{"x": true}'
    assert updated.identity == "carol" and updated.date_updated is not None
    # partial update: an absent parameter keeps its value
    again = users(user.sid).update(friendly_name="C")
    assert again.attributes == '{"x": true}'
    users("carol").delete()
    with pytest.raises(TwilioRestException) as raised:
        users(user.sid).fetch()
    assert raised.value.status == 404 and raised.value.code == 20404


def test_identity_is_case_sensitive_and_unique(client: Client, service: Any) -> None:
    users = client.chat.v2.services(service.sid).users
    users.create(identity="dave")
    assert users.create(identity="Dave").identity == "Dave"
    with pytest.raises(TwilioRestException) as raised:
        users.create(identity="dave")
    assert raised.value.status == 409 and raised.value.code == 50201
    assert [u.identity for u in users.list()] == ["dave", "Dave"]


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"identity": "x" * 257}, 400, 50207),
        ({"identity": "US" + "0" * 32}, 400, 50206),
        ({"identity": "e", "role_sid": "RL" + "0" * 32}, 400, 50100),
        ({"identity": "e", "role_sid": "not-a-role"}, 400, 50100),
        ({"identity": "e", "attributes": "{nope"}, 400, 50304),
        ({"identity": "e", "attributes": '"' + "a" * 16_384 + '"'}, 400, 50303),
        ({"identity": "e", "friendly_name": "f" * 257}, 400, 50003),
    ],
)
def test_create_validates(
    client: Client, service: Any, kwargs: dict[str, Any], status: int, code: int
) -> None:
    users = client.chat.v2.services(service.sid).users
    with pytest.raises(TwilioRestException) as raised:
        users.create(**kwargs)
    assert (raised.value.status, raised.value.code) == (status, code)
    assert users.list() == []


def test_identity_is_required(client: Client, service: Any) -> None:
    with pytest.raises(TwilioRestException) as raised:
        client.chat.v2.services(service.sid).users.create(identity="")
    assert raised.value.code == 20001
    assert "Missing required parameter Identity" in raised.value.msg


def test_update_role_must_be_a_service_role(client: Client, service: Any) -> None:
    users = client.chat.v2.services(service.sid).users
    users.create(identity="erin")
    with pytest.raises(TwilioRestException) as raised:
        users("erin").update(role_sid=service.default_channel_role_sid)
    assert raised.value.code == 50100
    assert users("erin").fetch().role_sid == service.default_service_role_sid


def test_reachability_fields(server: Server, client: Client, service: Any) -> None:
    svc = client.chat.v2.services(service.sid)
    svc.users.create(identity="frank")
    svc.update(reachability_enabled=True)
    fetched = svc.users("frank").fetch()
    # never connected, never had a binding: null even with reachability on
    assert fetched.is_online is None and fetched.is_notifiable is None
    binding = register_binding(server, service.sid, "frank", "device-1")
    assert svc.users("frank").fetch().is_notifiable is True
    assert svc.users.list()[0].is_notifiable is None  # always null in lists
    svc.bindings(binding["sid"]).delete()
    assert svc.users("frank").fetch().is_notifiable is False
    svc.update(reachability_enabled=False)
    assert svc.users("frank").fetch().is_notifiable is None


def test_list_pages(client: Client, service: Any) -> None:
    users = client.chat.v2.services(service.sid).users
    for i in range(5):
        users.create(identity=f"u{i}")
    page = users.page(page_size=2)
    assert [u.identity for u in page] == ["u0", "u1"]
    assert [u.identity for u in users.list(page_size=2)] == [f"u{i}" for i in range(5)]


def test_foreign_and_unknown(client: Client, other_client: Client, service: Any) -> None:
    client.chat.v2.services(service.sid).users.create(identity="gina")
    with pytest.raises(TwilioRestException) as raised:
        other_client.chat.v2.services(service.sid).users("gina").fetch()
    assert raised.value.code == 20404
    with pytest.raises(TwilioRestException) as raised:
        client.chat.v2.services(service.sid).users("nobody").fetch()
    assert raised.value.code == 20404
    assert raised.value.msg.endswith(f"resource /Services/{service.sid}/Users/nobody was not found")


def test_events(server: Server, client: Client, service: Any) -> None:
    users = client.chat.v2.services(service.sid).users
    with captured_events(server) as events:
        users.create(identity="hank")
        users("hank").update(friendly_name="H")
        register_binding(server, service.sid, "hank", "device-1")
        users("hank").delete()
    assert [e.kind for e in events] == [
        "onUserAdded",
        "onUserUpdated",
        "parley.binding.created",
        "parley.binding.deleted",
        "parley.user.deleted",
    ]
    assert events[-1].payload["identity"] == "hank"
    assert events[-1].service_sid == service.sid


def test_delete_removes_bindings(server: Server, client: Client, service: Any) -> None:
    svc = client.chat.v2.services(service.sid)
    register_binding(server, service.sid, "ivy", "device-1")
    other = register_binding(server, service.sid, "jack", "device-2")
    svc.users("ivy").delete()
    assert [b.sid for b in svc.bindings.list()] == [other["sid"]]
