"""User Channel resource through the official SDK (docs/behaviour.md §R9), and the
user-delete cascade over memberships and invites (docs/behaviour.md §R8)."""

from typing import Any

import pytest
from twilio.base.exceptions import TwilioException
from twilio.rest import Client

from tests.api.chat_fixtures import Captured, stored, twilio_error
from tests.conftest import Server


def _svc(client: Client, service: Any) -> Any:
    return client.chat.v2.services(service.sid)


def test_joined_channel(client: Client, service: Any, channel: Any) -> None:
    svc = _svc(client, service)
    member = svc.channels(channel.sid).members.create(identity="alice")
    user = svc.users("alice").fetch()
    (row,) = svc.users("alice").user_channels.list()
    assert (row.channel_sid, row.user_sid, row.member_sid) == (channel.sid, user.sid, member.sid)
    assert row.status == "joined" and row.notification_level == "default"
    # no horizon yet: null, as Twilio's SDKs report (docs/decisions.md §7)
    assert row.last_consumed_message_index is None and row.unread_messages_count is None
    base = client.chat.base_url
    assert row.url == f"{base}/v2/Services/{service.sid}/Users/{user.sid}/Channels/{channel.sid}"
    assert row.links == {
        "channel": f"{base}/v2/Services/{service.sid}/Channels/{channel.sid}",
        "member": f"{base}/v2/Services/{service.sid}/Channels/{channel.sid}/Members/{member.sid}",
    }
    # by user SID or identity, channel SID or unique name (docs/behaviour.md §R1)
    svc.channels(channel.sid).update(unique_name="lobby")
    for key in ("alice", user.sid):
        for name in ("lobby", channel.sid):
            assert svc.users(key).user_channels(name).fetch().member_sid == member.sid


def test_invited_channel(client: Client, service: Any, channel: Any) -> None:
    svc = _svc(client, service)
    svc.users.create(identity="bob")
    svc.channels(channel.sid).invites.create(identity="bob")
    (row,) = svc.users("bob").user_channels.list()
    assert row.status == "invited" and row.member_sid is None
    assert row.unread_messages_count is None and row.notification_level == "default"
    assert row.links["member"] is None
    # a horizon belongs to a membership: an invited channel cannot be updated
    with twilio_error(50400, 403):
        svc.users("bob").user_channels(channel.sid).update(notification_level="muted")
    # accepting (becoming a member) turns it into a joined channel
    svc.channels(channel.sid).members.create(identity="bob")
    assert svc.users("bob").user_channels(channel.sid).fetch().status == "joined"


def test_not_participating_is_not_found(client: Client, service: Any, channel: Any) -> None:
    svc = _svc(client, service)
    svc.users.create(identity="carol")
    with twilio_error(20404, 404):
        svc.users("carol").user_channels(channel.sid).fetch()
    with twilio_error(20404, 404):
        svc.users("carol").user_channels(channel.sid).update(notification_level="muted")
    with twilio_error(20404, 404):
        svc.users("carol").user_channels(channel.sid).delete()
    with twilio_error(20404, 404):
        svc.users("nobody").user_channels(channel.sid).fetch()
    with twilio_error(20404, 404):
        svc.users("carol").user_channels("no-such-channel").fetch()


def test_update(
    server: Server, client: Client, service: Any, channel: Any, events: Captured
) -> None:
    svc = _svc(client, service)
    member = svc.channels(channel.sid).members.create(identity="dave")
    user_channel = svc.users("dave").user_channels(channel.sid)
    muted = user_channel.update(notification_level="muted")
    assert muted.notification_level == "muted" and muted.last_consumed_message_index is None
    assert stored(server, "members", sid=member.sid)[0]["notification_level"] == "muted"
    read = user_channel.update(last_consumed_message_index=3)
    assert read.last_consumed_message_index == 3 and read.notification_level == "muted"
    assert read.unread_messages_count == 0  # no messages above the horizon
    # the horizon is the member's (docs/behaviour.md §R9); no timestamp given stamps now
    fetched = svc.channels(channel.sid).members(member.sid).fetch()
    assert fetched.last_consumed_message_index == 3
    assert fetched.last_consumption_timestamp is not None
    assert events.kinds().count("onMemberUpdated") == 2
    with twilio_error(50210, 400):
        user_channel.update(notification_level="loud")
    with twilio_error(50406, 400):
        user_channel.update(last_consumed_message_index=-1)
    assert user_channel.fetch().notification_level == "muted"


def test_delete_leaves_the_channel(
    client: Client, service: Any, channel: Any, events: Captured
) -> None:
    svc = _svc(client, service)
    svc.channels(channel.sid).members.create(identity="erin")
    svc.channels(channel.sid).members.create(identity="frank")
    svc.users("erin").user_channels(channel.sid).delete()
    assert svc.channels(channel.sid).fetch().members_count == 1
    assert [m.identity for m in svc.channels(channel.sid).members.list()] == ["frank"]
    assert svc.users("erin").fetch().joined_channels_count == 0
    assert svc.users("erin").user_channels.list() == []
    [removed] = events.of("onMemberRemoved")
    assert removed.payload["identity"] == "erin" and removed.channel_sid == channel.sid


def test_delete_declines_an_invite(client: Client, service: Any, channel: Any) -> None:
    svc = _svc(client, service)
    svc.users.create(identity="gina")
    svc.channels(channel.sid).invites.create(identity="gina")
    svc.users("gina").user_channels(channel.sid).delete()
    assert svc.channels(channel.sid).invites.list() == []


def test_list_pages_through_joined_then_invited(client: Client, service: Any) -> None:
    svc = _svc(client, service)
    svc.users.create(identity="hank")
    rooms = [svc.channels.create(friendly_name=f"r{i}").sid for i in range(5)]
    for sid in rooms[:3]:
        svc.channels(sid).members.create(identity="hank")
    for sid in rooms[3:]:
        svc.channels(sid).invites.create(identity="hank")
    listed = svc.users("hank").user_channels.list(page_size=2)
    assert [r.channel_sid for r in listed] == rooms
    assert [r.status for r in listed] == ["joined"] * 3 + ["invited"] * 2
    page = svc.users("hank").user_channels.page(page_size=2)
    second = page.next_page()
    third = second.next_page()
    assert [r.channel_sid for r in third] == rooms[4:]
    assert third.next_page() is None
    # and back again, through the previous-page links
    back = third.previous_page()
    assert [r.channel_sid for r in back] == rooms[2:4]
    assert [r.channel_sid for r in back.previous_page()] == rooms[:2]


def test_list_of_unknown_user(client: Client, service: Any) -> None:
    with pytest.raises(TwilioException, match="20404"):
        _svc(client, service).users("nobody").user_channels.list()


def test_user_delete_cascades(
    server: Server, client: Client, service: Any, events: Captured
) -> None:
    svc = _svc(client, service)
    one = svc.channels.create(friendly_name="one")
    two = svc.channels.create(friendly_name="two")
    svc.channels(one.sid).members.create(identity="ivy")
    svc.channels(one.sid).members.create(identity="jack")
    svc.channels(two.sid).members.create(identity="ivy")
    svc.users.create(identity="ivy2")  # another user, same prefix: untouched
    svc.channels(two.sid).invites.create(identity="ivy2")
    three = svc.channels.create(friendly_name="three")
    svc.channels(three.sid).invites.create(identity="ivy")
    user = svc.users("ivy").fetch()
    assert user.joined_channels_count == 2
    events.clear()
    svc.users("ivy").delete()
    assert svc.channels(one.sid).fetch().members_count == 1
    assert svc.channels(two.sid).fetch().members_count == 0
    assert [m.identity for m in svc.channels(one.sid).members.list()] == ["jack"]
    assert svc.channels(three.sid).invites.list() == []
    assert [i.identity for i in svc.channels(two.sid).invites.list()] == ["ivy2"]
    assert stored(server, "members", user_sid=user.sid) == []
    assert events.kinds() == [
        "onMemberRemoved",
        "onMemberRemoved",
        "parley.invite.deleted",
        "parley.user.deleted",
    ]
    # the cascade is Parley's own: no per-membership webhooks (docs/decisions.md §32)
    assert not any(e.webhooks for e in events.of("onMemberRemoved"))
    assert all(e.source == "system" for e in events[:3])
    with twilio_error(20404, 404):
        svc.users("ivy").fetch()
    # the identity can come back as a new user
    assert svc.users.create(identity="ivy").joined_channels_count == 0


def test_unread_messages_count(client: Client, service: Any, channel: Any) -> None:
    svc = _svc(client, service)
    svc.channels(channel.sid).members.create(identity="kim")
    messages = svc.channels(channel.sid).messages
    sent = [messages.create(body=f"m{i}") for i in range(5)]
    user_channel = svc.users("kim").user_channels(channel.sid)
    assert user_channel.fetch().unread_messages_count is None  # no horizon yet
    assert user_channel.update(last_consumed_message_index=1).unread_messages_count == 3
    # a deleted message above the horizon is no longer unread
    messages(sent[4].sid).delete()
    assert user_channel.fetch().unread_messages_count == 2
    # horizon set through the member shows here too (one store, docs/behaviour.md §R9)
    svc.channels(channel.sid).members("kim").update(last_consumed_message_index=sent[3].index)
    (row,) = svc.users("kim").user_channels.list()
    assert row.last_consumed_message_index == 3 and row.unread_messages_count == 0
    # read status off: no unread count (docs/behaviour.md §P7)
    svc.update(read_status_enabled=False)
    assert user_channel.fetch().unread_messages_count is None


def test_user_delete_keeps_messages(client: Client, service: Any, channel: Any) -> None:
    svc = _svc(client, service)
    svc.channels(channel.sid).members.create(identity="lee")
    sent = svc.channels(channel.sid).messages.create(body="hello", from_="lee")
    svc.users("lee").delete()
    kept = svc.channels(channel.sid).messages(sent.sid).fetch()
    assert kept._from == "lee" and kept.body == "hello"
    assert svc.channels(channel.sid).fetch().messages_count == 1
