"""The Sync view through the tunnel: objects, items pages, subscriptions with
replay and live events (docs/realtime-protocol.md §6-§7), checked the Zulip way: fetch
state, act, apply the pushed events to the old state, fetch again, compare."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from parley.api import codec
from parley.realtime import subscriptions
from parley.sync import view
from tests.conftest import Account, Server, make_client, start_server
from tests.realtime import rest
from tests.realtime.helpers import Twilsock, make_key, token


@pytest.fixture
def connect(server: Server, account: Account, service: Any) -> Iterator[Any]:
    key = make_key(server, account.sid)
    opened: list[Twilsock] = []

    def open_as(identity: str, on: Server = server, acct: str = account.sid) -> Twilsock:
        sock = Twilsock(on)
        sock.init(token(acct, key if on is server else make_key(on, acct), identity, service.sid))
        opened.append(sock)
        return sock

    yield open_as
    for sock in opened:
        sock.close()


def subscribe(sock: Twilsock, *objects: tuple[str, str, int | None]) -> dict[str, list[Any]]:
    """Establish subscriptions; returns the replayed events per object SID."""
    requests = [
        {"object_sid": sid, "object_type": kind, "last_event_id": last}
        for sid, kind, last in objects
    ]
    body = {
        "event_protocol_version": 4,
        "action": "establish",
        "correlation_id": 1,
        "retried_requests": 0,
        "ttl_in_s": -1,
        "requests": requests,
    }
    status, reply = sock.request("POST", "/v4/Subscriptions", body, host="cds.us1.twilio.com")
    assert status == 202, reply
    # twilio-sync re-pokes whatever is still unconfirmed after this long, and
    # never checks again if it is not a positive number
    assert reply["estimated_delivery_in_ms"] == subscriptions.ESTIMATED_DELIVERY_MS > 0
    replayed: dict[str, list[Any]] = {sid: [] for sid, _, _ in objects}
    pending = set(replayed)
    while pending:
        header, payload = sock.until("notification")
        assert header["message_type"] == "twilio.sync.event"
        event = payload["event"]
        if payload["event_type"] == "subscription_established":
            assert event["replay_status"] == "completed"
            pending.discard(event["object_sid"])
        elif payload["event_type"] == "subscription_failed":
            replayed[event["object_sid"]].append(payload)
            pending.discard(event["object_sid"])
        else:
            sid = event.get("map_sid") or event.get("list_sid") or event.get("document_sid")
            replayed[sid].append(payload)
    return replayed


def live(sock: Twilsock, count: int) -> list[tuple[str, Any]]:
    out = []
    while len(out) < count:
        header, payload = sock.until("notification")
        out.append((header["message_type"], payload))
    return out


def items(sock: Twilsock, url: str, **params: str) -> list[Any]:
    status, body = sock.request("GET", _path(url), params=params)
    assert status == 200, body
    return list(body["items"])


def _path(url: str) -> str:
    return "/" + url.split("://", 1)[-1].split("/", 1)[1]


def test_a_connected_user_has_an_info_map_and_a_private_channels_map(
    client: Any, service: Any, connect: Any
) -> None:
    alice = connect("alice")
    status, info = alice.request("GET", "/v3/Maps/alice-info-by-name-does-not-exist")
    assert status == 404 and info["code"] == 54200
    user = rest.user(client, service.sid, "alice")
    status, info = alice.request("GET", f"/v3/Maps/{user['sid']}.info", params={"Include": "items"})
    assert status == 200, info
    assert info["sid"].startswith("MP") and info["unique_name"] == f"{user['sid']}.info"
    got = {item["key"]: item["data"] for item in info["items"]}
    assert got["friendlyName"] == {"value": None}
    assert got["attributes"] == {"value": "{}"}
    assert got["reachability"] == {"online": False, "notifiable": False}
    # by SID too, and the channels map is alice's alone
    status, again = alice.request("GET", f"/v3/Maps/{info['sid']}")
    assert status == 200 and again["last_event_id"] == info["last_event_id"] == 3
    status, mine = alice.request("GET", f"/v3/Maps/{user['sid']}.channels")
    assert status == 200
    bob = connect("bob")
    status, refused = bob.request("GET", f"/v3/Maps/{user['sid']}.channels")
    assert (status, refused["code"]) == (403, 54007)
    assert subscribe(bob, (mine["sid"], "map", 0))[mine["sid"]][0]["event_type"] == (
        "subscription_failed"
    )


def test_subscription_replays_every_event_after_last_event_id(
    client: Any, service: Any, connect: Any
) -> None:
    alice = connect("alice")
    user = rest.user(client, service.sid, "alice")
    _, info = alice.request("GET", f"/v3/Maps/{user['sid']}.info")
    replayed = subscribe(alice, (info["sid"], "map", 0))[info["sid"]]
    assert [p["event"]["id"] for p in replayed] == [1, 2, 3]
    assert {p["event"]["item_key"] for p in replayed} == {
        "friendlyName",
        "attributes",
        "reachability",
    }
    assert all(p["event_type"] == "map_item_added" for p in replayed)
    first = replayed[0]["event"]
    assert first["map_sid"] == info["sid"] and first["item_url"].endswith(
        "/Items/" + first["item_key"]
    )
    # from the middle: only what is missing
    again = connect("alice")
    assert [p["event"]["id"] for p in subscribe(again, (info["sid"], "map", 2))[info["sid"]]] == [3]


def test_live_events_follow_domain_changes_and_rebuild_the_state(
    client: Any, service: Any, connect: Any
) -> None:
    channel = rest.channel(client, service.sid)
    rest.member(client, service.sid, channel["sid"], "alice")
    rest.message(client, service.sid, channel["sid"], "alice", "first")
    alice = connect("alice")

    _, messages = alice.request("GET", f"/v3/Lists/{channel['sid']}.messages")
    _, doc = alice.request("GET", f"/v3/Documents/{channel['sid']}.channel")
    assert doc["data"]["lastMessage"]["index"] == 0
    assert doc["data"]["messages"] == f"{channel['sid']}.messages"
    before = {i["index"]: i["data"] for i in items(alice, messages["links"]["items"])}
    assert before[0]["text"] == "first" and before[0]["memberSid"].startswith("MB")
    subscribe(
        alice,
        (messages["sid"], "list", messages["last_event_id"]),
        (doc["sid"], "document", doc["last_event_id"]),
    )

    second = rest.message(client, service.sid, channel["sid"], "alice", "second")
    rest.remove_message(client, service.sid, channel["sid"], second["sid"])
    rest.message(client, service.sid, channel["sid"], "alice", "third")
    pushed = live(alice, 6)

    state = dict(before)
    ids = []
    for message_type, payload in pushed:
        event = payload["event"]
        if message_type == "com.twilio.rtd.cds.list":
            ids.append(event["id"])
            if payload["event_type"] == "list_item_removed":
                del state[event["item_index"]]
            else:
                state[event["item_index"]] = event["item_data"]
        else:
            assert message_type == "com.twilio.rtd.cds.document"
            assert payload["event_type"] == "document_updated"
            doc_data = event["document_data"]
    assert ids == list(range(messages["last_event_id"] + 1, messages["last_event_id"] + 4))
    after = {i["index"]: i["data"] for i in items(alice, messages["links"]["items"])}
    assert state == after
    assert sorted(after) == [0, 2]
    assert doc_data["lastMessage"]["index"] == 2


def test_a_messages_list_replay_gives_each_change_since_once(
    client: Any, service: Any, connect: Any
) -> None:
    """The list is derived from the messages (docs/decisions.md §45): a
    replay from a position is each message changed since, once, with its
    newest data (added when it was added since, else updated), and the stored
    removals, in event-id order; applied to the items as they were, it gives
    the items as they are. The document's replay is its newest state."""
    sid = rest.channel(client, service.sid)["sid"]
    rest.member(client, service.sid, sid, "alice")
    first = rest.message(client, service.sid, sid, "alice", "first")
    second = rest.message(client, service.sid, sid, "alice", "second")
    alice = connect("alice")
    _, messages = alice.request("GET", f"/v3/Lists/{sid}.messages")
    _, doc = alice.request("GET", f"/v3/Documents/{sid}.channel")
    at, doc_at = messages["last_event_id"], doc["last_event_id"]
    assert at == 2
    state = {i["index"]: i["data"] for i in items(alice, messages["links"]["items"])}

    rest.edit_message(client, service.sid, sid, first["sid"], "first, edited")  # 3
    third = rest.message(client, service.sid, sid, "alice", "third")  # 4
    rest.edit_message(client, service.sid, sid, third["sid"], "third, edited")  # 5
    rest.remove_message(client, service.sid, sid, second["sid"])  # 6
    rest.message(client, service.sid, sid, "alice", "fourth")  # 7
    replayed = subscribe(alice, (messages["sid"], "list", at), (doc["sid"], "document", doc_at))
    seen = [
        (p["event_type"], p["event"]["item_index"], p["event"]["id"])
        for p in replayed[messages["sid"]]
    ]
    assert seen == [
        ("list_item_updated", 0, 3),
        ("list_item_added", 2, 5),
        ("list_item_removed", 1, 6),
        ("list_item_added", 3, 7),
    ]
    for payload in replayed[messages["sid"]]:
        event = payload["event"]
        assert event["item_revision"] == str(event["id"])
        if payload["event_type"] == "list_item_removed":
            assert event["item_data"]["text"] == "second"
            del state[event["item_index"]]
        else:
            state[event["item_index"]] = event["item_data"]
    now = {i["index"]: i for i in items(alice, messages["links"]["items"])}
    assert state == {index: item["data"] for index, item in now.items()}
    assert now[2]["data"]["text"] == "third, edited" and now[2]["revision"] == "5"
    (document,) = replayed[doc["sid"]]
    _, doc_now = alice.request("GET", f"/v3/Documents/{sid}.channel")
    assert document["event_type"] == "document_updated"
    assert document["event"]["id"] == doc_now["last_event_id"] == doc_at + 3
    assert document["event"]["document_data"] == doc_now["data"]
    assert doc_now["data"]["lastMessage"]["index"] == 3


def test_a_messages_list_replay_from_any_position_in_pages(
    client: Any, service: Any, server: Server
) -> None:
    """From every position, read in pages of 2 (``view.events_after``), the
    derived list's replay is each message changed since once, by its newest
    revision, with the removals: additions found by index from the bound the
    channel's counters give, edits by their own index; an item is added when
    it was added after where the replay began, whatever page it falls in
    (docs/decisions.md §45)."""
    sid = rest.channel(client, service.sid)["sid"]
    made = [rest.message(client, service.sid, sid, "bob", f"m{n}")["sid"] for n in range(4)]
    rest.edit_message(client, service.sid, sid, made[1], "m1, edited")  # 5
    rest.remove_message(client, service.sid, sid, made[2])  # 6
    made.append(rest.message(client, service.sid, sid, "bob", "m4")["sid"])  # 7
    rest.edit_message(client, service.sid, sid, made[0], "m0, edited")  # 8
    made.append(rest.message(client, service.sid, sid, "bob", "m5")["sid"])  # 9
    rest.edit_message(client, service.sid, sid, made[4], "m4, edited")  # 10
    # (event id, type, index) of the list's history, each message at its newest
    history = {
        1: None,
        2: None,
        3: None,
        4: ("list_item_added", 3),
        5: ("list_item_updated", 1),
        6: ("list_item_removed", 2),
        7: None,
        8: ("list_item_updated", 0),
        9: ("list_item_added", 5),
        10: ("list_item_updated", 4),
    }
    added_at = {0: 1, 1: 2, 2: 3, 3: 4, 4: 7, 5: 9}
    store = server.app.store
    assert store is not None

    async def replay(after: int) -> list[tuple[int, str, int]]:
        async with store.read() as tx:
            obj = await view.find(tx, service.sid, "list", f"{sid}.messages")
            assert obj is not None and obj["last_event_id"] == 10
            out: list[tuple[int, str, int]] = []
            position = after
            while rows := await view.events_after(tx, obj, position, limit=2, since=after):
                for row in rows:
                    event = orjson.loads(row["event"])
                    out.append((row["event_id"], row["event_type"], event["item_index"]))
                position = rows[-1]["event_id"]
            return out

    for after in range(11):
        expected = []
        for event_id in range(after + 1, 11):
            change = history[event_id]
            if change is None:
                continue
            kind, index = change
            if kind == "list_item_updated" and added_at[index] > after:
                kind = "list_item_added"
            expected.append((event_id, kind, index))
        assert server.run(replay(after)) == expected, after


def test_a_channel_without_its_sync_objects_still_has_its_list_and_document(
    client: Any, service: Any, connect: Any, server: Server
) -> None:
    """The messages list and the channel document are derived from the rows
    (docs/decisions.md §45): a channel whose objects are missing (rows stored
    without events, before a rebuild) has them all the same, with every
    message, under SIDs made from the channel's; what a non-member author
    posts has no memberSid."""
    channel = rest.channel(client, service.sid)
    sid = channel["sid"]
    rest.member(client, service.sid, sid, "alice")
    store = server.app.store
    assert store is not None

    async def drop(names: list[str]) -> None:
        async with store.write() as tx:
            for name in names:
                await tx.run("DELETE FROM sync_objects WHERE unique_name = :n", {"n": name})

    server.run(drop([f"{sid}.messages"]))  # the list only
    rest.message(client, service.sid, sid, "alice", "first")
    server.run(drop([f"{sid}.messages", f"{sid}.channel"]))  # both
    rest.message(client, service.sid, sid, "nobody", "second")
    alice = connect("alice")
    _, messages = alice.request("GET", f"/v3/Lists/{sid}.messages")
    _, doc = alice.request("GET", f"/v3/Documents/{sid}.channel")
    assert messages["sid"] == "ES" + sid[2:] and doc["sid"] == "ET" + sid[2:]
    got = {i["index"]: i["data"] for i in items(alice, messages["links"]["items"])}
    assert [got[0]["text"], got[1]["text"]] == ["first", "second"]
    assert got[0]["memberSid"].startswith("MB") and got[1]["memberSid"] is None
    # two messages; the document's first data, then each message's lastMessage
    assert messages["last_event_id"] == 2 and doc["last_event_id"] == 3
    assert doc["data"]["lastMessage"]["index"] == 1
    _, by_sid = alice.request("GET", f"/v3/Lists/{messages['sid']}")
    assert by_sid["last_event_id"] == 2
    rest.message(client, service.sid, sid, "alice", "third")
    _, after = alice.request("GET", f"/v3/Lists/{sid}.messages")
    got = {i["index"]: i["data"] for i in items(alice, messages["links"]["items"])}
    assert after["last_event_id"] == 3 and got[2]["memberSid"].startswith("MB")


def test_items_pages_with_from_order_and_page_token(
    client: Any, service: Any, connect: Any
) -> None:
    channel = rest.channel(client, service.sid)
    rest.member(client, service.sid, channel["sid"], "alice")
    for n in range(5):
        rest.message(client, service.sid, channel["sid"], "alice", f"m{n}")
    alice = connect("alice")
    _, messages = alice.request("GET", f"/v3/Lists/{channel['sid']}.messages")
    url = _path(messages["links"]["items"])

    status, page = alice.request("GET", url, params={"From": "2", "Order": "asc", "PageSize": "2"})
    assert [i["index"] for i in page["items"]] == [2, 3]
    assert page["meta"]["previous_token"] and page["meta"]["next_token"]
    status, tail = alice.request("GET", url, params={"PageToken": page["meta"]["next_token"]})
    assert [i["index"] for i in tail["items"]] == [4]
    assert tail["meta"]["next_token"] is None
    status, back = alice.request("GET", url, params={"PageToken": page["meta"]["previous_token"]})
    assert [i["index"] for i in back["items"]] == [1, 0]
    status, desc = alice.request("GET", url, params={"Order": "desc", "PageSize": "3"})
    assert [i["index"] for i in desc["items"]] == [4, 3, 2]
    assert desc["meta"]["previous_token"] is None and desc["meta"]["next_token"]
    status, one = alice.request("GET", url, params={"Index": "3"})
    assert [i["data"]["text"] for i in one["items"]] == ["m3"]
    status, item = alice.request("GET", url + "/1")
    assert (status, item["index"], item["data"]["text"]) == (200, 1, "m1")
    status, missing = alice.request("GET", url + "/9")
    assert (status, missing["code"]) == (404, 54151)
    status, bad = alice.request("GET", url, params={"PageSize": "0"})
    assert (status, bad["code"]) == (400, 20001)
    # one page token for every surface: REST's (a list's positions are indexes)
    assert page["meta"]["next_token"].startswith("PA")
    assert page["meta"]["previous_token"].startswith("PB")
    for forged in ("nope", codec.make_token("A", "text"), codec.make_token("A", -1)):
        status, bad = alice.request("GET", url, params={"PageToken": forged})
        assert (status, bad["code"]) == (400, 20001), forged
    # an index no message can have finds nothing (the list is read from the
    # messages: nothing beyond an index's range reaches the store)
    for index in ("99999999999999999999999", "-1", "x"):
        status, none = alice.request("GET", url, params={"Index": index})
        assert (status, none["items"]) == (200, []), index
        status, _ = alice.request("GET", f"{url}/{index}")
        assert status == 404, index
    # a non-member cannot read the channel's messages
    bob = connect("bob")
    status, refused = bob.request("GET", url)
    assert (status, refused["code"]) == (403, 54007)


def test_a_reconnect_after_a_restart_replays_what_was_missed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'replay.db'}"
    first = start_server(url)
    try:
        assert first.app.store is not None
        from parley import accounts

        acct = first.run(accounts.create_account(first.app.store, "replay"))
        key = first.run(accounts.create_key(first.app.store, acct["sid"]))
        svc_sid = (
            make_client(first, acct["sid"], acct["auth_token"])
            .chat.v2.services.create(friendly_name="replay")
            .sid
        )
        own_client = make_client(first, acct["sid"], acct["auth_token"])
        channel = rest.channel(own_client, svc_sid)
        rest.member(own_client, svc_sid, channel["sid"], "alice")
        sock = Twilsock(first)
        sock.init(token(acct["sid"], key, "alice", svc_sid))
        _, messages = sock.request("GET", f"/v3/Lists/{channel['sid']}.messages")
        seen = messages["last_event_id"]
        sock.close()
        rest.message(own_client, svc_sid, channel["sid"], "alice", "while away 1")
        rest.message(own_client, svc_sid, channel["sid"], "alice", "while away 2")
    finally:
        first.stop()
    second = start_server(url)
    try:
        sock = Twilsock(second)
        sock.init(token(acct["sid"], key, "alice", svc_sid))
        replayed = subscribe(sock, (messages["sid"], "list", seen))[messages["sid"]]
        assert [p["event"]["item_data"]["text"] for p in replayed] == [
            "while away 1",
            "while away 2",
        ]
        assert [p["event"]["id"] for p in replayed] == [seen + 1, seen + 2]
        sock.close()
    finally:
        second.stop()


def test_a_removed_member_stops_receiving_the_channel(
    client: Any, service: Any, connect: Any
) -> None:
    channel = rest.channel(client, service.sid)
    for identity in ("alice", "bob"):
        rest.member(client, service.sid, channel["sid"], identity)
    bob = connect("bob")
    _, messages = bob.request("GET", f"/v3/Lists/{channel['sid']}.messages")
    subscribe(bob, (messages["sid"], "list", messages["last_event_id"]))
    rest.message(client, service.sid, channel["sid"], "alice", "for bob")
    assert live(bob, 1)[0][1]["event"]["item_data"]["text"] == "for bob"

    client.chat.v2.services(service.sid).channels(channel["sid"]).members("bob").delete()
    rest.message(client, service.sid, channel["sid"], "alice", "not for bob")
    # fan-out happens before the REST call returns; a reply to bob comes after it
    before = len(bob.notifications)
    status, _ = bob.request("GET", f"/v3/Lists/{channel['sid']}.messages")
    assert status == 403
    texts = [p["event"].get("item_data", {}).get("text") for _, p in bob.notifications[before:]]
    assert "not for bob" not in texts


def test_writes_of_another_process_reach_this_process_clients(tmp_path: Path) -> None:
    """Two Parley servers on one database: the bus is per process, the poll is not."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    writer, reader = start_server(url), start_server(url)
    try:
        assert reader.app.sync_hub is not None
        reader.app.sync_hub.poll_interval = 0.05
        from parley import accounts

        assert writer.app.store is not None
        acct = writer.run(accounts.create_account(writer.app.store, "two"))
        key = writer.run(accounts.create_key(writer.app.store, acct["sid"]))
        rest_client = make_client(writer, acct["sid"], acct["auth_token"])
        svc_sid = rest_client.chat.v2.services.create(friendly_name="two").sid
        channel = rest.channel(rest_client, svc_sid)
        rest.member(rest_client, svc_sid, channel["sid"], "alice")
        sock = Twilsock(reader)
        sock.init(token(acct["sid"], key, "alice", svc_sid))
        _, messages = sock.request("GET", f"/v3/Lists/{channel['sid']}.messages")
        subscribe(sock, (messages["sid"], "list", messages["last_event_id"]))
        rest.message(rest_client, svc_sid, channel["sid"], "alice", "from the other process")
        message_type, payload = live(sock, 1)[0]
        assert message_type == "com.twilio.rtd.cds.list"
        assert payload["event"]["item_data"]["text"] == "from the other process"
        sock.close()
    finally:
        writer.stop()
        reader.stop()


def test_no_client_sees_another_services_data(
    server: Server, account: Account, client: Any, service: Any, make_service: Any, connect: Any
) -> None:
    """The same identity in two services: a client of one service reaches none of
    the other's objects, by name or by SID, and receives none of its events."""
    other = make_service("elsewhere")
    theirs = rest.channel(client, other.sid, unique_name="secret-room")
    rest.member(client, other.sid, theirs["sid"], "alice")
    rest.message(client, other.sid, theirs["sid"], "alice", "only for the other service")
    key = make_key(server, account.sid)
    insider = Twilsock(server)
    try:
        insider.init(token(account.sid, key, "alice", other.sid))
        status, their_list = insider.request("GET", f"/v3/Lists/{theirs['sid']}.messages")
        assert status == 200, their_list

        alice = connect("alice")  # the same identity, connected to the first service
        for path in (
            f"/v3/Lists/{theirs['sid']}.messages",
            f"/v3/Lists/{their_list['sid']}",
            f"/v3/Documents/{theirs['sid']}.channel",
            f"/v3/Maps/{theirs['sid']}.roster",
        ):
            status, refused = alice.request("GET", path)
            assert status in (403, 404), (path, status, refused)
        replay = subscribe(alice, (their_list["sid"], "list", 0))[their_list["sid"]]
        assert [p["event_type"] for p in replay] == ["subscription_failed"]
        rest.message(client, other.sid, theirs["sid"], "alice", "still not for you")
        before = len(alice.notifications)
        alice.request("GET", f"/v3/Maps/{rest.user(client, service.sid, 'alice')['sid']}.info")
        texts = [
            p.get("event", {}).get("item_data", {}).get("text")
            for _, p in alice.notifications[before:]
            if isinstance(p, dict)
        ]
        assert "still not for you" not in texts
    finally:
        insider.close()


def _own_channels_map(sock: Twilsock, client: Any, service: Any, identity: str) -> Any:
    user = rest.user(client, service.sid, identity)
    status, mine = sock.request("GET", f"/v3/Maps/{user['sid']}.channels")
    assert status == 200
    subscribe(sock, (mine["sid"], "map", mine["last_event_id"]))
    return mine


def _notifications_before(sock: Twilsock, reply_id: str) -> list[Any]:
    """The Sync notifications the socket received before the reply ``reply_id``."""
    out = []
    for header, payload in sock.frames:
        if header["method"] == "reply" and header["id"] == reply_id:
            return out
        if header["method"] == "notification" and "event_type" in (payload or {}):
            out.append(payload)
    raise AssertionError(f"no reply {reply_id}")


def test_a_join_reply_comes_after_the_event_that_marks_the_caller_joined(
    client: Any, service: Any, connect: Any
) -> None:
    channel = rest.channel(client, service.sid)
    bob = connect("bob")
    mine = _own_channels_map(bob, client, service, "bob")
    bob.frames.clear()
    url = f"/Client/v1/Services/{service.sid}/Conversations/{channel['sid']}/Participants"
    status, _ = bob.request("POST", url, {"identity": "bob"})
    assert status == 201
    reply_id = next(h["id"] for h, _ in reversed(bob.frames) if h["method"] == "reply")
    before = _notifications_before(bob, reply_id)
    joined = [
        p["event"]
        for p in before
        if p["event_type"] == "map_item_added" and p["event"]["map_sid"] == mine["sid"]
    ]
    assert [(e["item_key"], e["item_data"]["status"]) for e in joined] == [
        (channel["sid"], "joined")
    ]
    # the bus delivers the same commit later: nothing arrives twice
    client.chat.v2.services(service.sid).channels(channel["sid"]).update(friendly_name="x")
    [(_, next_one)] = live(bob, 1)
    assert next_one["event_type"] == "map_item_updated"
    assert next_one["event"]["id"] == joined[0]["id"] + 1


def test_a_destroyed_channel_leaves_the_users_map_before_its_objects_go(
    client: Any, service: Any, connect: Any
) -> None:
    channel = rest.channel(client, service.sid, type="private")
    rest.member(client, service.sid, channel["sid"], "alice")
    alice = connect("alice")
    mine = _own_channels_map(alice, client, service, "alice")
    objects = []
    for kind, plural, name in (
        ("document", "Documents", "channel"),
        ("list", "Lists", "messages"),
        ("map", "Maps", "roster"),
    ):
        status, obj = alice.request("GET", f"/v3/{plural}/{channel['sid']}.{name}")
        assert status == 200
        objects.append((obj["sid"], kind, obj["last_event_id"]))
    subscribe(alice, *objects)
    client.chat.v2.services(service.sid).channels(channel["sid"]).delete()
    pushed = [payload for _, payload in live(alice, 4)]
    kinds = [p["event_type"] for p in pushed]
    # the membership item first (channelLeft, then channelRemoved in the SDK),
    # then the channel's own objects, whatever their SIDs' order
    assert kinds[0] == "map_item_removed" and pushed[0]["event"]["map_sid"] == mine["sid"]
    assert set(kinds[-3:]) == {"document_removed", "list_removed", "map_removed"}
