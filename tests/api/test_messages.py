"""Message resource (docs/behaviour.md §R5): index, counters, paging, edits."""

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from twilio.rest import Client

from tests.api.chat_fixtures import Captured, twilio_error
from tests.conftest import Account, Server, make_client, start_server


def _messages(client: Client, service: Any, channel: Any) -> Any:
    return client.chat.v2.services(service.sid).channels(channel.sid).messages


def test_create_defaults(client: Client, service: Any, channel: Any, events: Captured) -> None:
    message = _messages(client, service, channel).create()
    assert message.sid.startswith("IM") and message.index == 0
    assert message._from == "system" and message.body == "" and message.type == "text"
    assert message.media is None and message.attributes == "{}"
    assert message.to == channel.sid == message.channel_sid
    assert message.was_edited is False and message.last_updated_by is None
    assert message.date_updated is None and message.date_created is not None
    assert message.url == f"{channel.url}/Messages/{message.sid}"
    [sent] = events.of("onMessageSent")
    assert sent.webhooks is False and sent.channel_sid == channel.sid
    assert sent.payload["sid"] == message.sid and sent.payload["idx"] == 0


def test_create_with_everything(client: Client, service: Any, channel: Any) -> None:
    when = datetime(2017, 3, 4, 5, 6, 7, tzinfo=UTC)
    message = _messages(client, service, channel).create(
        from_="alice",
        body="hello",
        attributes='{"k": [1, 2]}',
        last_updated_by="bob",
        date_created=when,
        date_updated=when,
        x_twilio_webhook_enabled="true",
    )
    assert message._from == "alice" and message.body == "hello"
    assert message.attributes == '{"k": [1, 2]}' and message.last_updated_by == "bob"
    assert message.date_created == when and message.date_updated == when


def test_indexes_counters_and_last_message(client: Client, service: Any, channel: Any) -> None:
    svc = client.chat.v2.services(service.sid)
    messages = _messages(client, service, channel)
    made = [messages.create(body=f"m{i}") for i in range(4)]
    assert [m.index for m in made] == [0, 1, 2, 3]
    fetched = svc.channels(channel.sid).fetch()
    assert fetched.messages_count == 4
    assert fetched.links["last_message"] == made[3].url

    messages(made[3].sid).delete()
    messages(made[1].sid).delete()
    fetched = svc.channels(channel.sid).fetch()
    assert fetched.messages_count == 2
    assert fetched.links["last_message"] == made[2].url
    # a deleted message's index is never reused
    assert messages.create(body="again").index == 4
    assert [m.index for m in messages.list()] == [0, 2, 4]
    for m in messages.list():
        messages(m.sid).delete()
    fetched = svc.channels(channel.sid).fetch()
    assert fetched.messages_count == 0 and fetched.links["last_message"] is None
    assert messages.create().index == 5


def test_fetch_update_delete(client: Client, service: Any, channel: Any, events: Captured) -> None:
    messages = _messages(client, service, channel)
    message = messages.create(body="first", from_="alice")
    assert messages(message.sid).fetch().body == "first"

    same = messages(message.sid).update(from_="alice2")
    assert same.was_edited is False and same._from == "alice2"
    edited = messages(message.sid).update(
        body="second", last_updated_by="mod", x_twilio_webhook_enabled="true"
    )
    assert edited.body == "second" and edited.was_edited is True
    assert edited.last_updated_by == "mod" and edited.date_updated is not None
    assert edited.index == message.index and edited.type == "text"
    updated = events.of("onMessageUpdated")
    assert updated[-1].payload["modified_by"] == "mod" and updated[-1].webhooks
    assert updated[-1].payload["body"] == "second"

    messages(message.sid).delete()
    with twilio_error(20404, 404):
        messages(message.sid).fetch()
    with twilio_error(20404, 404):
        messages(message.sid).update(body="x")
    [removed] = events.of("onMessageRemoved")
    assert removed.payload["body"] == "second" and removed.payload["removed_by"] == "system"


def test_attribute_edit_sets_was_edited(client: Client, service: Any, channel: Any) -> None:
    messages = _messages(client, service, channel)
    message = messages.create(body="b")
    assert messages(message.sid).update(attributes='{"a": 1}').was_edited is True


def test_list_order_and_pages(client: Client, service: Any, channel: Any) -> None:
    messages = _messages(client, service, channel)
    for i in range(7):
        messages.create(body=str(i))
    assert [m.index for m in messages.list(page_size=3)] == list(range(7))
    assert [m.index for m in messages.list(order="desc", page_size=3)] == list(range(6, -1, -1))
    page = messages.page(order="desc", page_size=2)
    assert [m.index for m in page] == [6, 5]
    second = page.next_page()
    assert [m.index for m in second] == [4, 3]
    assert [m.index for m in second.previous_page()] == [6, 5]


def test_keyset_by_index_ignores_import_dates(client: Client, service: Any, channel: Any) -> None:
    messages = _messages(client, service, channel)
    messages.create(body="new")
    messages.create(body="old", date_created=datetime(2001, 1, 1, tzinfo=UTC))
    assert [m.body for m in messages.list()] == ["new", "old"]


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"Body": "x" * 32_769}, 50504),
        ({"Attributes": "{"}, 50304),
        ({"Attributes": json.dumps("y" * 16_384)}, 50303),
        ({"LastUpdatedBy": "z" * 257}, 50505),
        ({"DateCreated": "never"}, 50308),
        ({"DateUpdated": "never"}, 50309),
        ({"MediaSid": "ME" + "0" * 32}, 50507),
        ({"MediaSid": "bogus"}, 50507),
    ],
)
def test_create_rejects_bad_input(
    client: Client, service: Any, channel: Any, data: dict[str, str], code: int
) -> None:
    response = client.request("POST", f"{channel.url}/Messages", data=data)
    assert response.status_code == 400
    assert json.loads(response.text)["code"] == code
    assert _messages(client, service, channel).list() == []
    fetched = client.chat.v2.services(service.sid).channels(channel.sid).fetch()
    assert fetched.messages_count == 0
    # nothing was taken from the index either
    assert _messages(client, service, channel).create().index == 0


def test_body_at_the_limit(client: Client, service: Any, channel: Any) -> None:
    assert len(_messages(client, service, channel).create(body="é" * 32_768).body) == 32_768


def test_update_rejects_bad_input(client: Client, service: Any, channel: Any) -> None:
    messages = _messages(client, service, channel)
    message = messages.create(body="keep", attributes='{"a": 1}')
    for data, code in (
        ({"Attributes": "nope", "Body": "lost"}, 50304),
        ({"Body": "x" * 40_000}, 50504),
    ):
        response = client.request("POST", message.url, data=data)
        assert json.loads(response.text)["code"] == code
    fetched = messages(message.sid).fetch()
    assert fetched.body == "keep" and fetched.attributes == '{"a": 1}'
    assert fetched.was_edited is False and fetched.date_updated is None


@pytest.mark.parametrize("query", [{"Order": "sideways"}, {"PageToken": "PA!!"}, {"PageSize": "0"}])
def test_list_rejects_bad_query(client: Client, channel: Any, query: dict[str, str]) -> None:
    response = client.request("GET", f"{channel.url}/Messages", params=query)
    assert response.status_code == 400 and json.loads(response.text)["code"] == 20001


def test_missing_channel(client: Client, service: Any) -> None:
    with twilio_error(20404, 404):
        client.chat.v2.services(service.sid).channels("nope").messages.create(body="x")


def test_create_finds_the_channel_only_in_its_service_and_account(
    client: Client, other_client: Client, make_service: Any, server: Server
) -> None:
    """The index take is the channel's lookup (README, "What profiling found
    and fixed"): a channel of another service, or of another account, by SID
    or unique name, is not found, and nothing is written to it."""
    from tests.api.chat_fixtures import stored

    home, away = make_service("home"), make_service("away")
    room = client.chat.v2.services(away.sid).channels.create(unique_name="room")
    for key in (room.sid, "room"):
        with twilio_error(20404, 404):
            client.chat.v2.services(home.sid).channels(key).messages.create(body="x")
        with twilio_error(20404, 404):
            other_client.chat.v2.services(away.sid).channels(key).messages.create(body="x")
    with twilio_error(20404, 404):
        client.chat.v2.services("ISnot-a-sid").channels(room.sid).messages.create(body="x")
    assert stored(server, "messages", channel_sid=room.sid) == []
    [row] = stored(server, "channels", sid=room.sid)
    assert row["next_message_index"] == 0 and row["messages_count"] == 0
    made = client.chat.v2.services(away.sid).channels("room").messages.create(body="y")
    assert made.index == 0 and made.channel_sid == room.sid


def test_list_finds_the_channel_only_in_its_service_and_account(
    client: Client, other_client: Client, make_service: Any
) -> None:
    """A page's statement finds its channel by a subquery (README, "What
    profiling found and fixed"): a channel of another service, or of another
    account, by SID or unique name, is 404 whether it has messages or not; its
    own service lists it, and an empty channel is an empty page."""
    home, away = make_service("home"), make_service("away")
    room = client.chat.v2.services(away.sid).channels.create(unique_name="room")
    empty = client.chat.v2.services(away.sid).channels.create(unique_name="empty")
    client.chat.v2.services(away.sid).channels(room.sid).messages.create(body="x")

    def listed(caller: Client, service_sid: str, key: str) -> tuple[int, Any]:
        url = f"{room.url.rsplit('/v2/', 1)[0]}/v2/Services/{service_sid}/Channels/{key}/Messages"
        response = caller.request("GET", url)
        return response.status_code, json.loads(response.text)

    for key in (room.sid, "room", empty.sid, "empty"):
        for caller, service_sid in ((client, home.sid), (other_client, away.sid)):
            status, body = listed(caller, service_sid, key)
            assert (status, body["code"]) == (404, 20404), (key, body)
    assert listed(client, away.sid, "nope")[0] == 404
    for key in (room.sid, "room"):
        listed = client.chat.v2.services(away.sid).channels(key).messages.list()
        assert [m.body for m in listed] == ["x"]
    for key in (empty.sid, "empty"):
        assert client.chat.v2.services(away.sid).channels(key).messages.list() == []


def test_message_of_another_channel_is_not_found(client: Client, service: Any) -> None:
    svc = client.chat.v2.services(service.sid)
    one, two = svc.channels.create().sid, svc.channels.create().sid
    message = svc.channels(one).messages.create(body="x")
    with twilio_error(20404, 404):
        svc.channels(two).messages(message.sid).fetch()
    with twilio_error(20404, 404):
        svc.channels(two).messages(message.sid).delete()


def test_channel_addressed_by_unique_name(client: Client, service: Any) -> None:
    svc = client.chat.v2.services(service.sid)
    room = svc.channels.create(unique_name="named")
    message = svc.channels("named").messages.create(body="hi")
    assert message.channel_sid == room.sid
    assert message.url.endswith(f"/Channels/{room.sid}/Messages/{message.sid}")


def test_delete_channel_removes_messages(client: Client, service: Any, server: Server) -> None:
    from tests.api.chat_fixtures import stored

    svc = client.chat.v2.services(service.sid)
    room = svc.channels.create()
    for i in range(3):
        svc.channels(room.sid).messages.create(body=str(i))
    svc.channels(room.sid).delete()
    assert stored(server, "messages", channel_sid=room.sid) == []


@pytest.fixture
def second_server(server: Server) -> Iterator[Server]:
    """Another Parley on the same database: its own connections and writer, as
    a second process would have."""
    other = start_server(server.database_url)
    yield other
    other.stop()


def test_concurrent_writers_get_every_index_once(
    server: Server,
    second_server: Server,
    account: Account,
    client: Client,
    service: Any,
    channel: Any,
) -> None:
    """20 writers x 50 messages into one channel, spread over two servers on
    one database: indexes exactly 0..999, each once."""
    writers, each = 20, 50
    errors: list[BaseException] = []
    indexes: list[int] = []
    lock = threading.Lock()

    def write(n: int) -> None:
        target = server if n % 2 else second_server
        own = make_client(target, account.sid, account.auth_token)
        messages = own.chat.v2.services(service.sid).channels(channel.sid).messages
        try:
            got = [messages.create(body=f"{n}-{i}", from_=f"w{n}").index for i in range(each)]
        except BaseException as exc:  # reported below
            errors.append(exc)
            return
        with lock:
            indexes.extend(got)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(indexes) == list(range(writers * each))
    fetched = client.chat.v2.services(service.sid).channels(channel.sid).fetch()
    assert fetched.messages_count == writers * each
    assert fetched.links["last_message"] is not None
    listed = [m.index for m in _messages(client, service, channel).list(page_size=100)]
    assert listed == list(range(writers * each))


def test_message_pages_use_the_channel_index(server: Server) -> None:
    """A page is an index range scan on (channel_sid, idx), never a sort or an
    offset: its cost does not grow with the channel (checked on the query plan)."""
    from parley.store import repo

    async def plans() -> list[str]:
        assert server.app.store is not None
        out = []
        for descending in (False, True):
            sql = repo._page_sql("messages", ("channel_sid",), (), "idx", descending, "after")
            params = {"w_channel_sid": "CH" + "0" * 32, "cursor": 5, "limit": 51}
            async with server.app.store.read() as tx:
                if server.app.store.engine == "sqlite":
                    rows = await tx.all("EXPLAIN QUERY PLAN " + sql, params)
                    out.append(" | ".join(str(r["detail"]) for r in rows))
                else:
                    # a small test table makes any plan cheap: ask for the plan a
                    # large channel gets (an ordered index scan, no sort)
                    await tx.run("SET enable_seqscan = off")
                    await tx.run("SET enable_bitmapscan = off")
                    rows = await tx.all("EXPLAIN " + sql, params)
                    await tx.run("RESET enable_seqscan")
                    await tx.run("RESET enable_bitmapscan")
                    out.append(" | ".join(str(r["QUERY PLAN"]) for r in rows))
        return out

    for plan in server.run(plans()):
        assert "idx" in plan and "INDEX" in plan.upper(), plan
        assert "TEMP B-TREE" not in plan.upper() and "Sort" not in plan, plan
