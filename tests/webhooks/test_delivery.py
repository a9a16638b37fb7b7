"""Post-event webhooks to a real receiver: fields, signature, filters, method, retries."""

import re
from typing import Any

import orjson
import pytest
from twilio.rest import Client

from parley.events import Origin
from parley.store import repo
from parley.webhooks import outbox
from tests.conftest import Account, Server
from tests.webhooks.conftest import Events
from tests.webhooks.receiver import Receiver

MS_DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_every_event_type_arrives_signed_with_its_fields(
    hooked: Any, events: Events, receiver: Receiver, account: Account
) -> None:
    ch = events.channel(unique_name="room", attributes='{"a":1}')
    msg = events.message(ch["sid"], 0, body="hi there")
    media = events.message(ch["sid"], 1, body=None, media_sid="ME" + "1" * 32, type="media")
    member = events.member(ch["sid"], last_consumed_message_index=1)
    user = events.user("bob", friendly_name="Bob", is_online=1, is_notifiable=0)
    sdk = Origin("sdk", False, "alice")
    cases: list[tuple[str, dict[str, Any], dict[str, Any], Origin | None]] = [
        ("onChannelAdded", ch, {}, None),
        ("onChannelUpdated", {**ch, "date_updated": ch["date_created"] + 1000}, {}, None),
        ("onMessageSent", msg, {}, sdk),
        (
            "onMediaMessageSent",
            media,
            {
                "media": {
                    "sid": media["media_sid"],
                    "size": 42,
                    "content_type": "image/png",
                    "filename": "a.png",
                }
            },
            None,
        ),
        ("onMessageUpdated", {**msg, "body": "edited"}, {"modified_by": "alice"}, None),
        ("onMessageRemoved", msg, {"removed_by": "alice"}, None),
        ("onMemberAdded", member, {"reason": "ADDED"}, None),
        ("onMemberUpdated", member, {}, None),
        ("onMemberRemoved", member, {"reason": "LEFT"}, None),
        ("onUserAdded", user, {}, None),
        ("onUserUpdated", user, {}, None),
        ("onChannelDestroyed", ch, {}, None),
    ]
    for kind, row, extra, origin in cases:
        channel = None if kind.startswith("onUser") else ch["sid"]
        events.emit(kind, row, origin, channel_sid=channel, **extra)
    got = receiver.wait_for(len(cases))
    # one lane per channel: the channel's events arrive in commit order
    channel_kinds = [k for k, *_ in cases if not k.startswith("onUser")]
    assert [r.params["EventType"] for r in got if "ChannelSid" in r.params] == channel_kinds
    by_kind = {r.params["EventType"]: r for r in got}
    for r in got:
        assert r.method == "POST" and r.path == "/hook"
        assert r.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
        assert r.valid_for(account.auth_token, receiver.url())
        assert r.params["AccountSid"] == account.sid
        assert r.params["InstanceSid"] == hooked.sid
        assert r.params["RetryCount"] == "0"
        for name, value in r.params.items():
            if name.startswith("Date"):
                assert MS_DATE.match(value), (name, value)

    sent = by_kind["onMessageSent"].params
    assert sent == {
        "EventType": "onMessageSent",
        "AccountSid": account.sid,
        "InstanceSid": hooked.sid,
        "Source": "SDK",
        "ClientIdentity": "alice",
        "ChannelSid": ch["sid"],
        "MessageSid": msg["sid"],
        "Index": "0",
        "Body": "hi there",
        "Attributes": "{}",
        "From": "alice",
        "DateCreated": sent["DateCreated"],
        "RetryCount": "0",
    }
    media_params = by_kind["onMediaMessageSent"].params
    assert media_params["MediaSid"] == media["media_sid"]
    assert media_params["MediaContentType"] == "image/png"
    assert media_params["MediaFilename"] == "a.png" and media_params["MediaSize"] == "42"
    assert "Body" not in media_params and media_params["Source"] == "API"
    assert "ClientIdentity" not in media_params
    assert by_kind["onMessageUpdated"].params["Body"] == "edited"
    assert by_kind["onMessageUpdated"].params["ModifiedBy"] == "alice"
    assert "DateUpdated" not in by_kind["onMessageUpdated"].params  # null is omitted
    assert by_kind["onMessageRemoved"].params["RemovedBy"] == "alice"
    assert "DateRemoved" in by_kind["onMessageRemoved"].params
    added = by_kind["onChannelAdded"].params
    assert added["UniqueName"] == "room" and added["Attributes"] == '{"a":1}'
    assert added["ChannelType"] == "public" and added["CreatedBy"] == "system"
    assert added["FriendlyName"] == "general" and "DateUpdated" not in added
    assert "DateUpdated" in by_kind["onChannelUpdated"].params
    assert by_kind["onMemberAdded"].params["Reason"] == "ADDED"
    assert by_kind["onMemberAdded"].params["MemberSid"] == member["sid"]
    assert by_kind["onMemberUpdated"].params["LastConsumedMessageIndex"] == "1"
    assert by_kind["onMemberRemoved"].params["Reason"] == "LEFT"
    assert "DateRemoved" in by_kind["onMemberRemoved"].params
    updated_user = by_kind["onUserUpdated"].params
    assert updated_user["UserSid"] == user["sid"] and updated_user["Identity"] == "bob"
    assert updated_user["FriendlyName"] == "Bob"
    assert updated_user["IsOnline"] == "true" and updated_user["IsNotifiable"] == "false"
    assert "ChannelSid" not in updated_user and "IsOnline" not in by_kind["onUserAdded"].params


def test_only_filtered_events_and_only_with_the_header(
    client: Client, hooked: Any, events: Events, receiver: Receiver
) -> None:
    client.chat.v2.services(hooked.sid).update(webhook_filters=["onUserAdded"])
    events.emit("onUserUpdated", events.user("skipped"))  # not in the filters
    events.emit("onUserAdded", events.user("no-header"), Origin("api", False))  # REST, no header
    events.emit("parley.user.deleted", events.user("internal"))  # not a webhook
    events.emit("onUserAdded", events.user("wanted"))
    got = receiver.wait_for(1)
    assert [r.params["Identity"] for r in receiver.quiet(0.4)] == ["wanted"]
    assert got[0].params["EventType"] == "onUserAdded"


def _set_filters(server: Server, service_sid: str, stored: str | None) -> None:
    async def go() -> None:
        assert server.app.store is not None
        async with server.app.store.write() as tx:
            await repo.update(tx, "services", {"sid": service_sid}, {"webhook_filters": stored})

    server.run(go())


def test_empty_filters_or_no_url_deliver_nothing(
    client: Client, hooked: Any, events: Events, receiver: Receiver, server: Server
) -> None:
    # docs/decisions.md §42: an empty (or null) filter list delivers nothing; the
    # SDK sends no parameter for an empty list, so set the stored value directly
    for stored in ("[]", None):
        _set_filters(server, hooked.sid, stored)
        events.emit("onUserAdded", events.user("a"))
    client.chat.v2.services(hooked.sid).update(webhook_filters=["onUserAdded"], post_webhook_url="")
    events.emit("onUserAdded", events.user("b"))
    client.chat.v2.services(hooked.sid).update(post_webhook_url=receiver.url())
    events.emit("onUserAdded", events.user("c"))
    receiver.wait_for(1)
    assert [r.params["Identity"] for r in receiver.quiet(0.4)] == ["c"]


def test_get_puts_the_parameters_in_the_query_and_signs_the_url(
    client: Client, hooked: Any, events: Events, receiver: Receiver, account: Account
) -> None:
    url = receiver.url("/get-hook?token=abc")
    client.chat.v2.services(hooked.sid).update(webhook_method="GET", post_webhook_url=url)
    events.emit("onUserAdded", events.user("carol", attributes='{"x": "y z"}'))
    (got,) = receiver.wait_for(1)
    assert got.method == "GET" and got.body == b""
    assert got.url.startswith(url + "&EventType=onUserAdded&")
    assert got.params["token"] == "abc" and got.params["Attributes"] == '{"x": "y z"}'
    assert got.valid_for(account.auth_token, url)


def test_retries_on_503_with_retry_count_and_one_idempotency_token(
    client: Client, hooked: Any, events: Events, receiver: Receiver, server: Server
) -> None:
    client.chat.v2.services(hooked.sid).update(post_webhook_retry_count=3)
    receiver.script = [503, 429, 504]
    events.emit("onUserAdded", events.user("dave"))
    got = receiver.wait_for(4)
    assert [r.params["RetryCount"] for r in got] == ["0", "1", "2", "3"]
    assert len({r.headers["I-Twilio-Idempotency-Token"] for r in got}) == 1
    assert len(receiver.quiet(0.3)) == 4
    statuses = _attempt_statuses(server, hooked.sid)
    assert statuses == [[503, 429, 504, 200]]


def test_retries_stop_at_the_retry_count_and_other_errors_are_final(
    client: Client, hooked: Any, events: Events, receiver: Receiver, server: Server
) -> None:
    client.chat.v2.services(hooked.sid).update(post_webhook_retry_count=1)
    receiver.reply = lambda r: 503 if r.params["Identity"] == "busy" else 500
    events.emit("onUserAdded", events.user("busy"))
    events.emit("onUserAdded", events.user("broken"))
    receiver.wait_for(3)
    got = receiver.quiet(0.5)
    assert [r.params["Identity"] for r in got] == ["busy", "busy", "broken"]
    assert _attempt_statuses(server, hooked.sid) == [[503, 503], [500]]

    async def failed() -> list[dict[str, Any]]:
        assert server.app.store is not None
        async with server.app.store.read() as tx:
            return await outbox.failed(tx)

    mine = [d for d in server.run(failed()) if d["service_sid"] == hooked.sid]
    assert [(d["last_status"], d["attempts"]) for d in mine] == [(500, 1), (503, 2)]


def test_a_timeout_is_retried(
    client: Client, hooked: Any, events: Events, receiver: Receiver, fast: Server
) -> None:
    fast.app.settings.webhook_timeout = 0.3
    client.chat.v2.services(hooked.sid).update(post_webhook_retry_count=1)
    receiver.script = [("sleep", 1.0)]
    events.emit("onUserAdded", events.user("slow"))
    got = receiver.wait_for(2)
    assert [r.params["RetryCount"] for r in got] == ["0", "1"]
    errors = _attempt_errors(fast, hooked.sid)
    assert errors == [["timeout", None]]


def test_channel_webhooks_add_their_own_deliveries(
    fast: Server, hooked: Any, events: Events, receiver: Receiver, account: Account
) -> None:
    fast.app.settings.studio_url = receiver.url("/studio")
    ch = events.channel()
    wh = events.channel_webhook(
        ch["sid"],
        "webhook",
        url=receiver.url("/channel"),
        method="GET",
        filters=orjson.dumps(["onMessageSent", "onMemberAdded"]).decode(),
        retry_count=1,
    )
    trigger = events.channel_webhook(
        ch["sid"],
        "trigger",
        url=receiver.url("/trigger"),
        method="POST",
        triggers=orjson.dumps(["help", "on call"]).decode(),
    )
    studio = events.channel_webhook(ch["sid"], "studio", flow_sid="FW" + "0" * 32)
    receiver.reply = lambda r: (
        503 if r.path == "/channel" and r.params["RetryCount"] == "0" else 200
    )
    other = events.channel()  # a webhook of one channel never sees another's events
    events.emit("onMessageSent", events.message(other["sid"], 0, "help"))
    events.emit("onMessageSent", events.message(ch["sid"], 0, "I need HELP!"))
    events.emit("onMessageSent", events.message(ch["sid"], 1, "helpful? no"))
    events.emit("onMessageSent", events.message(ch["sid"], 2, "who is On  Call"))
    events.emit("onMemberAdded", events.member(ch["sid"]), reason="JOINED")
    events.emit("onChannelUpdated", ch)
    # service hook: 4 messages + member + channel update; channel hook: 3 messages +
    # member, each tried twice
    # trigger: 2 messages; studio: 3 messages
    receiver.wait_for(6 + 8 + 2 + 3)
    got = receiver.quiet(0.4)
    paths: dict[str, list[Any]] = {}
    for r in got:
        paths.setdefault(r.path, []).append(r)
    assert len(paths["/hook"]) == 6 and all("WebhookSid" not in r.params for r in paths["/hook"])
    channel = paths["/channel"]
    # every first try is answered 503: each event is retried before the next one goes
    assert [
        (r.params["EventType"], r.params.get("Index"), r.params["RetryCount"]) for r in channel
    ] == [
        ("onMessageSent", "0", "0"),
        ("onMessageSent", "0", "1"),
        ("onMessageSent", "1", "0"),
        ("onMessageSent", "1", "1"),
        ("onMessageSent", "2", "0"),
        ("onMessageSent", "2", "1"),
        ("onMemberAdded", None, "0"),
        ("onMemberAdded", None, "1"),
    ]
    for r in channel:
        assert r.method == "GET" and r.params["WebhookSid"] == wh
        assert r.params["WebhookType"] == "webhook" and r.params["ChannelSid"] == ch["sid"]
        assert r.valid_for(account.auth_token, receiver.url("/channel"))
    assert [r.params["Body"] for r in paths["/trigger"]] == ["I need HELP!", "who is On  Call"]
    for r in paths["/trigger"]:
        assert r.method == "POST" and r.params["WebhookType"] == "trigger"
        assert r.params["WebhookSid"] == trigger and r.params["EventType"] == "onMessageSent"
        assert r.valid_for(account.auth_token, receiver.url("/trigger"))
    assert [r.params["Index"] for r in paths["/studio"]] == ["0", "1", "2"]
    for r in paths["/studio"]:
        assert r.params["WebhookSid"] == studio and r.params["WebhookType"] == "studio"
        assert r.valid_for(account.auth_token, receiver.url("/studio"))


def test_studio_without_a_stand_in_is_skipped_not_failed(
    fast: Server, hooked: Any, events: Events, receiver: Receiver
) -> None:
    fast.app.settings.studio_url = None
    ch = events.channel()
    events.channel_webhook(ch["sid"], "studio", flow_sid="FW" + "0" * 32)
    events.emit("onMessageSent", events.message(ch["sid"], 0))
    receiver.wait_for(1)  # the service hook

    async def states() -> list[tuple[Any, Any]]:
        assert fast.app.store is not None
        async with fast.app.store.read() as tx:
            rows = await repo.select(tx, "webhook_deliveries", {"channel_sid": ch["sid"]})
            return [(r["webhook_type"], r["state"]) for r in rows]

    deadline_rows: list[tuple[Any, Any]] = []
    for _ in range(100):
        deadline_rows = fast.run(states())
        if all(state != "pending" for _, state in deadline_rows):
            break
        receiver.quiet(0.05)
    assert sorted(deadline_rows, key=str) == [("studio", "skipped"), (None, "done")]


def test_order_per_channel_holds_through_retries(
    client: Client, hooked: Any, events: Events, receiver: Receiver
) -> None:
    client.chat.v2.services(hooked.sid).update(post_webhook_retry_count=2)
    receiver.reply = lambda r: (
        503 if int(r.params["Index"]) % 7 == 3 and r.params["RetryCount"] == "0" else 200
    )
    channels = [events.channel() for _ in range(3)]
    for i in range(30):
        for ch in channels:
            events.emit("onMessageSent", events.message(ch["sid"], i))
    receiver.wait_for(90, where=lambda r: r.headers and True and _ok(r))
    for ch in channels:
        first_tries = [
            int(r.params["Index"])
            for r in receiver.received
            if r.params["ChannelSid"] == ch["sid"] and _ok(r)
        ]
        assert first_tries == list(range(30))


def _ok(r: Any) -> bool:
    """Requests the receiver answered 200 (see the reply rule above)."""
    return not (int(r.params["Index"]) % 7 == 3 and r.params["RetryCount"] == "0")


def _attempt_rows(server: Server, service_sid: str) -> list[list[dict[str, Any]]]:
    async def go() -> list[list[dict[str, Any]]]:
        assert server.app.store is not None
        async with server.app.store.read() as tx:
            deliveries = await repo.select(tx, "webhook_deliveries", {"service_sid": service_sid})
            return [await outbox.attempts(tx, d["seq"]) for d in deliveries]

    return list(server.run(go()))


def _attempt_statuses(server: Server, service_sid: str) -> list[list[Any]]:
    return [[a["status"] for a in d] for d in _attempt_rows(server, service_sid)]


def _attempt_errors(server: Server, service_sid: str) -> list[list[Any]]:
    return [[a["error"] for a in d] for d in _attempt_rows(server, service_sid)]


@pytest.fixture(autouse=True)
def _quiet_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("WARNING", logger="parley.webhooks")


def test_finished_deliveries_are_pruned_after_the_retention(
    client: Client, hooked: Any, events: Events, receiver: Receiver, fast: Server
) -> None:
    client.chat.v2.services(hooked.sid).update(post_webhook_retry_count=1)
    receiver.reply = lambda r: 500 if r.params["Identity"] == "bad" else 200
    events.emit("onUserAdded", events.user("good"))
    events.emit("onUserAdded", events.user("bad"))
    receiver.wait_for(2)
    receiver.quiet(0.2)
    assert len(_attempt_rows(fast, hooked.sid)) == 2
    assert fast.app.webhooks is not None
    fast.app.settings.webhook_retention = 3600.0
    fast.run(fast.app.webhooks.prune())
    assert len(_attempt_rows(fast, hooked.sid)) == 2  # younger than the retention
    fast.app.settings.webhook_retention = -1.0
    fast.run(fast.app.webhooks.prune())
    assert _attempt_rows(fast, hooked.sid) == []


def test_a_busy_channel_does_not_starve_the_others(
    hooked: Any, events: Events, receiver: Receiver, fast: Server
) -> None:
    fast.app.settings.webhook_concurrency = 1  # one lane in flight at a time
    try:
        busy, quiet = events.channel(), events.channel()
        receiver.reply = lambda r: ("sleep", 0.01)
        for i in range(120):
            events.emit("onMessageSent", events.message(busy["sid"], i))
        events.emit("onMessageSent", events.message(quiet["sid"], 0))
        got = receiver.wait_for(121, timeout=30)
        channels = [r.params["ChannelSid"] for r in got]
        # the busy lane hands its turn back after a batch: the quiet one is not last
        assert channels.index(quiet["sid"]) < 120
    finally:
        fast.app.settings.webhook_concurrency = 32
