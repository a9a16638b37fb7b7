"""Protocol version 2 (docs/realtime-protocol.md §9) at the frame level: the
session list of twilio-chat 2.x-4.x, its context, commands run through version
1's client actions and answered in their item, the older reads, and 2.x's EMS
token exchange. (tests/node runs the real SDKs over the same paths.)"""

import logging
import uuid
from typing import Any

import pytest

from parley import timefmt
from parley.errors import TwilioError
from parley.realtime.v2 import session
from parley.sync.rebuild import rebuild
from tests.conftest import Account, Server
from tests.realtime import rest
from tests.realtime.helpers import Twilsock, make_key, token
from tests.realtime.test_sync import _notifications_before, _own_channels_map, connect, subscribe

__all__ = ["connect"]  # (the fixture)

PURPOSE = {"purpose": "com.twilio.rtd.ipmsg", "context": {"type": "IpMsgSession"}}
B = "/Client/v1/Services/{}"


def open_session(sock: Twilsock) -> dict[str, Any]:
    status, made = sock.request("POST", "/v3/Lists", PURPOSE, host="cds.us1.twilio.com")
    assert status == 201, made
    return made


def command(
    sock: Twilsock, made: dict[str, Any], action: str, command_id: str | None = None, **params: Any
) -> tuple[int, Any]:
    data = {"commandId": command_id or str(uuid.uuid4()), "request": {"action": action, **params}}
    return sock.request("POST", f"/v3/Lists/{made['sid']}/Items", {"data": data})


def answered(sock: Twilsock, made: dict[str, Any], action: str, **params: Any) -> Any:
    """The response the session list's item carries for the command."""
    status, item = command(sock, made, action, **params)
    assert status == 201, item
    status, stored = sock.request("GET", f"/v3/Lists/{made['sid']}/Items/{item['index']}")
    assert status == 200, stored
    return stored["data"]["response"]


def test_the_session_list_is_the_callers_with_its_context_as_event_1(
    client: Any, service: Any, connect: Any
) -> None:
    alice = connect("alice")
    made = open_session(alice)
    assert made["sid"].startswith("ES") and made["unique_name"] is None
    assert (made["last_event_id"], made["revision"]) == (0, "0")
    user = rest.user(client, service.sid, "alice")
    # the SDK keeps a fetched context and ignores context events not newer than it
    status, fetched = alice.request("GET", f"/v3/Lists/{made['sid']}/Context")
    assert status == 200 and fetched["last_event_id"] == 0
    [event] = subscribe(alice, (made["sid"], "list", 0))[made["sid"]]
    assert event["event_type"] == "list_context_updated" and event["event"]["id"] == 1
    context = event["event"]["context_data"]
    assert context == fetched["data"]
    assert context["identity"] == "alice"
    assert context["userInfo"] == f"{user['sid']}.info"
    assert context["myChannels"] == context["channels"] == f"{user['sid']}.channels"
    base = B.format(service.sid)
    assert context["links"] == {
        "publicChannelsUrl": f"{base}/Channels",
        "myChannelsUrl": f"{base}/Users/alice/Channels",
        "syncListUrl": f"{base}/Users/alice/ChannelsSync",
        "usersUrl": f"{base}/Users",
        "typingUrl": "/v1/typing",
        "mediaServiceUrl": f"/v1/Services/{service.sid}/Media",
    }
    assert context["consumptionReportInterval"].startswith("PT")
    assert context["httpCacheInterval"] == "PT1S"
    # the caller's alone; and clients create no other lists
    bob = connect("bob")
    status, refused = bob.request("GET", f"/v3/Lists/{made['sid']}")
    assert (status, refused["code"]) == (403, 54007)
    status, refused = command(bob, made, "sendMessage", channelSid="CHx", text="hi")
    assert (status, refused["code"]) == (403, 54007)
    status, refused = bob.request("POST", "/v3/Lists", {"purpose": "mine"})
    assert (status, refused["code"]) == (400, 54008)
    status, refused = bob.request("POST", "/v3/Lists/ESnotthere/Items", {"data": {}})
    assert (status, refused["code"]) == (404, 54150)


def test_a_command_is_the_client_action_and_its_effect_precedes_its_answer(
    client: Any, service: Any, connect: Any
) -> None:
    alice = connect("alice")
    made = open_session(alice)
    subscribe(alice, (made["sid"], "list", 0))
    mine = _own_channels_map(alice, client, service, "alice")
    alice.frames.clear()
    status, item = command(
        alice, made, "createChannel", friendlyName="ops", uniqueName="ops", type="private"
    )
    assert status == 201, item
    reply_id = next(h["id"] for h, _ in reversed(alice.frames) if h["method"] == "reply")
    before = [(p["event_type"], p["event"]) for p in _notifications_before(alice, reply_id)]
    # the creator's channels-map item first, then the command's item and its answer
    kinds = [kind for kind, _ in before]
    assert kinds[0] == "map_item_added" and before[0][1]["map_sid"] == mine["sid"]
    assert kinds[-2:] == ["list_item_added", "list_item_updated"]
    added, updated = before[-2][1], before[-1][1]
    assert added["item_index"] == updated["item_index"] == item["index"] == 0
    assert "response" not in added["item_data"]
    assert item["last_event_id"] == added["id"] == updated["id"] - 1
    response = updated["item_data"]["response"]
    channel = client.chat.v2.services(service.sid).channels("ops").fetch()
    assert response == {
        "status": 200,
        "channelSid": channel.sid,
        "channel": f"{channel.sid}.channel",
    }
    assert (channel.type, channel.created_by) == ("private", "alice")
    # version 1's actions answer the rest, with their codes
    assert answered(alice, made, "sendMessage", channelSid=channel.sid, text="hi") == {
        "status": 200,
        "messageId": 0,
    }
    assert answered(alice, made, "editMessage", channelSid=channel.sid, messageIdx="0", text="yo")
    assert answered(alice, made, "joinChannelV2", channelSid=channel.sid) == {
        "status": 409,
        "statusText": "Member already exists: alice",
        "errorCode": 50404,
    }
    report = answered(
        alice, made, "consumptionReportV2", report=[{"channelSid": channel.sid, "messageIdx": 0}]
    )
    assert report == {
        "status": 200,
        "report": [{"channelSid": channel.sid, "unreadMessagesCount": 0}],
    }
    [stored] = client.chat.v2.services(service.sid).channels(channel.sid).messages.list()
    assert (stored.body, stored._from, stored.last_updated_by) == ("yo", "alice", "alice")


def test_the_other_commands_reach_rest_state(client: Any, service: Any, connect: Any) -> None:
    """The commands the Node scenarios do not send, each checked through REST."""
    svc = client.chat.v2.services(service.sid)
    svc.users.create(identity="bob")
    svc.users.create(identity="carol")
    alice = connect("alice")
    made = open_session(alice)
    ch = answered(alice, made, "createChannel", uniqueName="room", friendlyName="Room")[
        "channelSid"
    ]
    ok = {"status": 200}
    assert answered(alice, made, "editAttributes", channelSid=ch, attributes='{"a": 1}') == ok
    assert answered(alice, made, "editUniqueName", channelSid=ch, uniqueName="") == ok
    channel = svc.channels(ch).fetch()
    assert (channel.attributes, channel.unique_name) == ('{"a": 1}', None)
    assert answered(alice, made, "addMemberV2", channelSid=ch, username="bob") == ok
    [bob] = [m for m in svc.channels(ch).members.list() if m.identity == "bob"]
    edited = answered(
        alice, made, "editMemberAttributes", channelSid=ch, memberSid=bob.sid, attributes='{"d": 4}'
    )
    assert edited == ok and svc.channels(ch).members(bob.sid).fetch().attributes == '{"d": 4}'
    assert answered(alice, made, "removeMember", channelSid=ch, memberSid=bob.sid) == ok
    assert [m.identity for m in svc.channels(ch).members.list()] == ["alice"]
    assert answered(alice, made, "inviteMember", channelSid=ch, username="carol") == ok
    carol = connect("carol")
    carols = open_session(carol)
    assert answered(carol, carols, "declineInvitation", channelSid=ch) == ok
    assert svc.channels(ch).invites.list() == []
    assert answered(alice, made, "sendMessage", channelSid=ch, text="hi")["messageId"] == 0
    attrs = answered(
        alice, made, "editMessageAttributes", channelSid=ch, messageIdx=0, attributes='{"b": 2}'
    )
    assert attrs == ok
    assert svc.channels(ch).messages.list()[0].attributes == '{"b": 2}'
    level = answered(alice, made, "editNotificationLevel", channelSid=ch, notificationLevel="muted")
    assert level == ok
    [mine] = svc.users("alice").user_channels.list()
    assert mine.notification_level == "muted"
    me = answered(alice, made, "editUserAttributes", username="alice", attributes='{"c": 3}')
    assert me == ok and svc.users("alice").fetch().attributes == '{"c": 3}'
    assert answered(alice, made, "deleteMessage", channelSid=ch, messageIdx="0") == ok
    assert answered(alice, made, "leaveChannel", channelSid=ch) == ok
    assert svc.channels(ch).members.list() == []
    # having left, alice holds destroyChannel neither by her service role nor a membership
    assert answered(alice, made, "destroyChannel", channelSid=ch)["errorCode"] == 50107


def test_a_refused_command_gets_its_error_and_changes_nothing(
    client: Any, service: Any, connect: Any, caplog: pytest.LogCaptureFixture
) -> None:
    channel = rest.channel(client, service.sid)
    bob = connect("bob")
    made = open_session(bob)
    with caplog.at_level(logging.INFO, logger="parley.realtime"):
        assert answered(bob, made, "sendMessage", channelSid=channel["sid"], text="hi") == {
            "status": 403,
            "statusText": "User not member of channel",
            "errorCode": 50400,
        }
    assert any(
        r.levelno == logging.INFO
        and "client command refused: 403 50400 identity=bob sendMessage" in r.getMessage()
        for r in caplog.records
    )
    assert client.chat.v2.services(service.sid).channels(channel["sid"]).messages.list() == []
    missing = answered(bob, made, "sendMessage", text="where")
    assert (missing["status"], missing["errorCode"]) == (400, 20001)
    assert "channelSid" in missing["statusText"]
    unknown = answered(bob, made, "launchRockets")
    assert (unknown["status"], unknown["errorCode"]) == (400, 20001)
    bad = answered(bob, made, "createChannel", attributes="{not json")
    assert (bad["status"], bad["errorCode"]) == (400, 50304)
    # malformed items are not commands: no item, the request itself refused
    status, body = bob.request("POST", f"/v3/Lists/{made['sid']}/Items", {"data": {"x": 1}})
    assert (status, body["code"]) == (400, 54008)


def test_a_command_and_its_answer_commit_together(
    client: Any, service: Any, connect: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The answer is written in the action's transaction: when writing it fails
    (here: the list ended meanwhile), the message is not stored either."""
    channel = rest.channel(client, service.sid)
    rest.member(client, service.sid, channel["sid"], "alice")
    alice = connect("alice")
    made = open_session(alice)

    async def gone(self: Any, tx: Any, response: Any) -> None:
        raise TwilioError(54150, kind="List", ident=made["sid"])

    monkeypatch.setattr(session._Answer, "write", gone)
    status, refused = command(alice, made, "sendMessage", channelSid=channel["sid"], text="lost")
    assert (status, refused["code"]) == (404, 54150)
    assert client.chat.v2.services(service.sid).channels(channel["sid"]).messages.list() == []


def test_a_command_sent_twice_runs_once(client: Any, service: Any, connect: Any) -> None:
    channel = rest.channel(client, service.sid)
    rest.member(client, service.sid, channel["sid"], "alice")
    alice = connect("alice")
    made = open_session(alice)
    params = {"channelSid": channel["sid"], "text": "once"}
    status, first = command(alice, made, "sendMessage", "same-id", **params)
    assert status == 201
    status, again = command(alice, made, "sendMessage", "same-id", **params)
    assert status == 201 and again["index"] == first["index"]
    assert again["data"]["response"] == {"status": 200, "messageId": 0}
    assert len(client.chat.v2.services(service.sid).channels(channel["sid"]).messages.list()) == 1


def test_a_session_list_ends_a_day_after_its_last_command(
    server: Server, client: Any, service: Any, connect: Any
) -> None:
    channel = rest.channel(client, service.sid)
    rest.member(client, service.sid, channel["sid"], "alice")
    alice = connect("alice")
    made = open_session(alice)
    answered(alice, made, "sendMessage", channelSid=channel["sid"], text="old")
    store = server.app.store
    assert store is not None
    later = timefmt.now() + session.LIFETIME + 1
    assert server.run(session.expire(store, later)) >= 1
    status, gone = alice.request("GET", f"/v3/Lists/{made['sid']}")
    assert (status, gone["code"]) == (404, 54150)
    status, gone = command(alice, made, "sendMessage", channelSid=channel["sid"], text="new")
    assert (status, gone["code"]) == (404, 54150)  # the SDK then opens a new session
    assert server.run(session.expire(store, later)) == 0


def test_an_identity_keeps_at_most_sessions_max_session_lists(
    service: Any, connect: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(session, "SESSIONS_MAX", 3)
    alice = connect("alice")
    made = [open_session(alice) for _ in range(3)]
    command(alice, made[0], "editUserFriendlyName", username="alice", friendlyName="A")
    newest = open_session(alice)  # made[1] was used least recently
    status, gone = alice.request("GET", f"/v3/Lists/{made[1]['sid']}")
    assert (status, gone["code"]) == (404, 54150)
    for kept in (made[0], made[2], newest):
        status, _ = alice.request("GET", f"/v3/Lists/{kept['sid']}")
        assert status == 200


def test_a_sync_rebuild_keeps_the_session_lists(
    server: Server, account: Account, service: Any, connect: Any
) -> None:
    alice = connect("alice")
    made = open_session(alice)
    store = server.app.store
    assert store is not None

    async def run() -> None:
        async with store.write() as tx:
            await rebuild(tx, account.sid, service.sid)

    server.run(run())
    status, kept = alice.request("GET", f"/v3/Lists/{made['sid']}")
    assert (status, kept["sid"]) == (200, made["sid"])


def test_the_older_reads_are_version_1s(client: Any, service: Any, connect: Any) -> None:
    channel = rest.channel(client, service.sid, unique_name="lobby")
    rest.member(client, service.sid, channel["sid"], "alice")
    alice = connect("alice")
    base = B.format(service.sid)
    status, public = alice.request("GET", f"{base}/Channels")
    assert status == 200, public
    [listed] = public["channels"]
    assert (listed["sid"], listed["members_count"]) == (channel["sid"], 1)
    assert "previous_token" in public["meta"]
    status, one = alice.request("GET", f"{base}/Channels/lobby")
    assert (status, one["sid"], one["members_count"]) == (200, channel["sid"], 1)
    status, mine = alice.request("GET", f"{base}/Users/alice/Channels")
    [entry] = mine["channels"]
    assert (entry["channel_sid"], entry["status"], entry["channel"]) == (
        channel["sid"],
        "joined",
        f"{channel['sid']}.channel",
    )
    status, unread = alice.request(
        "GET", f"{base}/Users/alice/Channels", params={"ChannelSid": channel["sid"]}
    )
    assert status == 200 and unread["channels"][0]["channel_sid"] == channel["sid"]
    status, synced = alice.request("GET", f"{base}/Users/alice/ChannelsSync")
    assert [c["channel_sid"] for c in synced["channels"]] == [channel["sid"]]
    status, refused = alice.request("GET", f"{base}/Users/bob/Channels")
    assert (status, refused["code"]) == (403, 54007)
    status, typing = alice.request(
        "POST",
        "/v1/typing",
        f"ChannelSid={channel['sid']}",
        content_type="application/x-www-form-urlencoded",
    )
    assert status == 200 and typing["typing_timeout"] > 0


def test_the_ems_exchange_answers_the_access_token_itself(
    server: Server, account: Account, service: Any
) -> None:
    key = make_key(server, account.sid)
    alice_token = token(account.sid, key, "alice", service.sid)
    sock = Twilsock(server)
    try:
        sock.init(alice_token)
        status, new = sock.request("POST", "/v1/token", {"fpa_token": alice_token}, host="ems")
        assert status == 200, new
        assert new["twilio_rtd_token"] == alice_token and new["status"] == {"status": "NEW"}
        assert (new["identity"], new["account_sid"]) == ("alice", account.sid)
        assert new["instance_sids"] == {"ip_messaging": service.sid} and new["ttl"] > 0
        again = {"fpa_token": alice_token, "continuation_token": new["continuation_token"]}
        status, updated = sock.request("POST", "/v1/token", again, host="ems")
        assert updated["status"] == {"status": "UPDATED"}
        bobs = token(account.sid, key, "bob", service.sid)
        status, refused = sock.request("POST", "/v1/token", {"fpa_token": bobs}, host="ems")
        assert (status, refused["code"]) == (401, 20106)
        forged = token(account.sid, {**key, "secret": "z" * 40}, "alice", service.sid)
        status, refused = sock.request("POST", "/v1/token", {"fpa_token": forged}, host="ems")
        assert (status, refused["code"]) == (401, 20107)
    finally:
        sock.close()


def test_the_media_service_url_points_version_2s_media_client_at_parley() -> None:
    # the SDK prefixes https://mcs.us1.twilio.com: behind HTTPS "@host" makes the
    # Twilio host a user name and Parley's the host (§9.6)
    assert session.media_service_url("https://chat.example.com", "IS1") == (
        "@chat.example.com/v1/Services/IS1/Media"
    )
    assert session.media_service_url("https://example.com:8443/parley/", "IS1") == (
        "@example.com:8443/parley/v1/Services/IS1/Media"
    )
    assert session.media_service_url("http://127.0.0.1:8080", "IS1") == "/v1/Services/IS1/Media"
