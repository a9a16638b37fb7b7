"""Issue 18: an invited user who had not joined read a private channel's
messages and roster through Sync. An invitee reads the channel's document only
(docs/security.md, "Invitees and private channels")."""

from typing import Any

from tests.realtime import rest
from tests.realtime.test_sync import connect, subscribe

__all__ = ["connect"]  # the fixture: one socket per identity, closed afterwards


def test_an_invitee_reads_the_document_but_not_messages_or_roster(
    client: Any, service: Any, connect: Any
) -> None:
    svc = client.chat.v2.services(service.sid)
    channel = svc.channels.create(friendly_name="secret plans", type="private")
    svc.channels(channel.sid).members.create(identity="alice")
    svc.channels(channel.sid).messages.create(from_="alice", body="the plan")
    svc.users.create(identity="mallory")
    svc.channels(channel.sid).invites.create(identity="mallory")
    mallory = connect("mallory")

    status, doc = mallory.request("GET", f"/v3/Documents/{channel.sid}.channel")
    assert status == 200 and doc["data"]["friendlyName"] == "secret plans"
    for path in (
        f"/v3/Lists/{channel.sid}.messages",
        f"/v3/Lists/{channel.sid}.messages/Items",
        f"/v3/Maps/{channel.sid}.roster",
        f"/v3/Maps/{channel.sid}.roster/Items",
        f"/v3/Maps/{channel.sid}.roster/Items/alice",
    ):
        status, body = mallory.request("GET", path)
        assert (status, body["code"]) == (403, 54007), path

    # subscriptions are refused the same way, and carry nothing
    messages_sid = doc["data"]["messages"]
    roster_sid = doc["data"]["roster"]
    replayed = subscribe(mallory, (messages_sid, "list", 0), (roster_sid, "map", 0))
    for sid in (messages_sid, roster_sid):
        [failed] = replayed[sid]
        assert failed["event_type"] == "subscription_failed"
        assert failed["event"]["error"]["code"] == 54007

    # once a member, the same requests succeed
    svc.channels(channel.sid).members.create(identity="mallory")
    status, page = mallory.request("GET", f"/v3/Lists/{channel.sid}.messages/Items")
    assert status == 200 and [i["data"]["text"] for i in page["items"]] == ["the plan"]


def test_a_stranger_reads_nothing_of_a_private_channel(
    client: Any, service: Any, connect: Any
) -> None:
    channel = rest.channel(client, service.sid, type="private")
    rest.member(client, service.sid, channel["sid"], "alice")
    eve = connect("eve")
    for path in (f"/v3/Documents/{channel['sid']}.channel", f"/v3/Maps/{channel['sid']}.roster"):
        status, body = eve.request("GET", path)
        assert (status, body["code"]) == (403, 54007), path
