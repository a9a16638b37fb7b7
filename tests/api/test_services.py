"""Service resource through the official SDK (docs/behaviour.md §R2)."""

from typing import Any

import pytest
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client


def test_create_has_twilio_defaults(client: Client, service: Any) -> None:
    fetched = client.chat.v2.services(service.sid).fetch()
    assert fetched.sid.startswith("IS") and len(fetched.sid) == 34
    assert fetched.friendly_name == "test service"
    assert fetched.date_updated is None
    assert fetched.read_status_enabled is True
    assert fetched.reachability_enabled is False
    assert fetched.typing_indicator_timeout == 5
    assert fetched.consumption_report_interval == 10
    assert fetched.limits == {"channel_members": 100, "user_channels": 250}
    assert fetched.webhook_method is None and fetched.webhook_filters is None
    assert fetched.pre_webhook_retry_count == 0 and fetched.post_webhook_retry_count == 0
    assert fetched.notifications == {
        "log_enabled": False,
        "new_message": {"enabled": False},
        "added_to_channel": {"enabled": False},
        "invited_to_channel": {"enabled": False},
        "removed_from_channel": {"enabled": False},
    }
    assert fetched.media == {
        "size_limit_mb": 150,
        "compatibility_message": "Media messages are not supported by your client",
    }
    base = client.chat.base_url
    assert fetched.url == f"{base}/v2/Services/{service.sid}"
    assert fetched.links == {
        name: f"{base}/v2/Services/{service.sid}/{name.capitalize()}"
        for name in ("channels", "users", "roles", "bindings")
    }


def test_default_roles_are_wired(client: Client, service: Any) -> None:
    roles = {r.sid: r for r in client.chat.v2.services(service.sid).roles.list()}
    assert roles[service.default_service_role_sid].friendly_name == "service user"
    assert roles[service.default_channel_role_sid].friendly_name == "channel user"
    assert roles[service.default_channel_creator_role_sid].friendly_name == "channel admin"
    assert sorted(r.friendly_name for r in roles.values()) == [
        "channel admin",
        "channel user",
        "service admin",
        "service user",
    ]


def test_update_every_parameter(client: Client, service: Any) -> None:
    roles = client.chat.v2.services(service.sid).roles
    admin = roles.create(friendly_name="ops", type="deployment", permission=["createChannel"])
    chan = roles.create(friendly_name="mod", type="channel", permission=["sendMessage"])
    updated = client.chat.v2.services(service.sid).update(
        friendly_name="renamed",
        default_service_role_sid=admin.sid,
        default_channel_role_sid=chan.sid,
        default_channel_creator_role_sid=chan.sid,
        read_status_enabled=False,
        reachability_enabled=True,
        typing_indicator_timeout=9,
        consumption_report_interval=20,
        notifications_new_message_enabled=True,
        notifications_new_message_template="${USER}: ${MESSAGE}",
        notifications_new_message_sound="ding",
        notifications_new_message_badge_count_enabled=True,
        notifications_added_to_channel_enabled=True,
        notifications_added_to_channel_template="added",
        notifications_added_to_channel_sound="a",
        notifications_removed_from_channel_enabled=True,
        notifications_removed_from_channel_template="removed",
        notifications_removed_from_channel_sound="r",
        notifications_invited_to_channel_enabled=True,
        notifications_invited_to_channel_template="invited",
        notifications_invited_to_channel_sound="i",
        notifications_log_enabled=True,
        pre_webhook_url="https://hooks.example.com/pre",
        post_webhook_url="https://hooks.example.com/post?x=1",
        webhook_method="GET",
        webhook_filters=["onMessageSent", "onMessageSend"],
        limits_channel_members=1000,
        limits_user_channels=1,
        media_compatibility_message="no media here",
        pre_webhook_retry_count=3,
        post_webhook_retry_count=2,
    )
    assert updated.date_updated is not None
    fetched = client.chat.v2.services(service.sid).fetch()
    for got in (updated, fetched):
        assert got.friendly_name == "renamed"
        assert got.default_service_role_sid == admin.sid
        assert got.default_channel_role_sid == chan.sid
        assert got.default_channel_creator_role_sid == chan.sid
        assert got.read_status_enabled is False and got.reachability_enabled is True
        assert got.typing_indicator_timeout == 9 and got.consumption_report_interval == 20
        assert got.notifications == {
            "log_enabled": True,
            "new_message": {
                "enabled": True,
                "template": "${USER}: ${MESSAGE}",
                "sound": "ding",
                "badge_count_enabled": True,
            },
            "added_to_channel": {"enabled": True, "template": "added", "sound": "a"},
            "removed_from_channel": {"enabled": True, "template": "removed", "sound": "r"},
            "invited_to_channel": {"enabled": True, "template": "invited", "sound": "i"},
        }
        assert got.pre_webhook_url == "https://hooks.example.com/pre"
        assert got.post_webhook_url == "https://hooks.example.com/post?x=1"
        assert got.webhook_method == "GET"
        assert got.webhook_filters == ["onMessageSent", "onMessageSend"]
        assert got.limits == {"channel_members": 1000, "user_channels": 1}
        assert got.media["compatibility_message"] == "no media here"
        assert got.pre_webhook_retry_count == 3 and got.post_webhook_retry_count == 2


def test_update_is_partial(client: Client, service: Any) -> None:
    client.chat.v2.services(service.sid).update(typing_indicator_timeout=7)
    got = client.chat.v2.services(service.sid).update(friendly_name="only the name")
    assert got.typing_indicator_timeout == 7 and got.friendly_name == "only the name"


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"limits_channel_members": 1001}, 50061),
        ({"limits_channel_members": 0}, 50061),
        ({"limits_user_channels": 5000}, 50060),
        ({"pre_webhook_retry_count": 4}, 50065),
        ({"post_webhook_retry_count": -1}, 50065),
        ({"webhook_method": "PUT"}, 50055),
        ({"webhook_filters": ["onMessageSent", "onNothing"]}, 50054),
        ({"post_webhook_url": "not a url"}, 50054),
        ({"pre_webhook_url": "ftp://example.com/x"}, 50054),
        ({"default_service_role_sid": "RL" + "0" * 32}, 50100),
        ({"default_channel_role_sid": "nonsense"}, 50101),
        ({"notifications_new_message_template": "x" * 1025}, 50058),
        ({"friendly_name": "x" * 257}, 50003),
    ],
)
def test_update_rejects_bad_values_and_changes_nothing(
    client: Client, service: Any, kwargs: dict[str, Any], code: int
) -> None:
    before = client.chat.v2.services(service.sid).fetch()
    with pytest.raises(TwilioRestException) as raised:
        client.chat.v2.services(service.sid).update(typing_indicator_timeout=77, **kwargs)
    assert raised.value.code == code
    assert raised.value.status == 400
    after = client.chat.v2.services(service.sid).fetch()
    assert after.typing_indicator_timeout == before.typing_indicator_timeout
    assert after.date_updated == before.date_updated


def test_role_sids_must_have_the_right_type(client: Client, service: Any) -> None:
    with pytest.raises(TwilioRestException) as raised:
        client.chat.v2.services(service.sid).update(
            default_service_role_sid=service.default_channel_role_sid
        )
    assert raised.value.code == 50100
    with pytest.raises(TwilioRestException) as raised:
        client.chat.v2.services(service.sid).update(
            default_channel_role_sid=service.default_service_role_sid
        )
    assert raised.value.code == 50101


def test_role_of_another_service_is_refused(client: Client, make_service: Any) -> None:
    one, two = make_service("one"), make_service("two")
    with pytest.raises(TwilioRestException) as raised:
        client.chat.v2.services(one.sid).update(
            default_service_role_sid=two.default_service_role_sid
        )
    assert raised.value.code == 50100


def test_create_requires_friendly_name(client: Client) -> None:
    with pytest.raises(TwilioRestException) as raised:
        client.chat.v2.services.create(friendly_name="")
    assert raised.value.code == 20001 and raised.value.status == 400
    assert "FriendlyName" in raised.value.msg


def test_delete_removes_everything(client: Client, make_service: Any) -> None:
    svc = make_service("doomed")
    client.chat.v2.services(svc.sid).delete()
    with pytest.raises(TwilioRestException) as raised:
        client.chat.v2.services(svc.sid).fetch()
    assert raised.value.status == 404 and raised.value.code == 20404
    with pytest.raises(TwilioException, match="20404"):
        client.chat.v2.services(svc.sid).roles.list()


def test_other_account_sees_nothing(client: Client, other_client: Client, service: Any) -> None:
    with pytest.raises(TwilioRestException) as raised:
        other_client.chat.v2.services(service.sid).fetch()
    assert raised.value.status == 404
    with pytest.raises(TwilioRestException):
        other_client.chat.v2.services(service.sid).update(friendly_name="mine now")
    with pytest.raises(TwilioRestException):
        other_client.chat.v2.services(service.sid).delete()
    assert service.sid not in {s.sid for s in other_client.chat.v2.services.list()}
    assert client.chat.v2.services(service.sid).fetch().friendly_name == "test service"


def test_list_walks_every_record_once(client: Client, make_service: Any) -> None:
    made = {make_service(f"walk {i}").sid for i in range(7)}
    seen = [s.sid for s in client.chat.v2.services.stream(page_size=2)]
    assert len(seen) == len(set(seen))
    assert made <= set(seen)
    limited = client.chat.v2.services.list(limit=3)
    assert len(limited) == 3
