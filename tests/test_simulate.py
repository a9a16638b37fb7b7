"""``POST /parley/v1/simulate/…``: a client of identity X acts through the
real-time client API's own actions, without a socket (parley/realtime/simulate.py)."""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from parley.testing import ParleyServer, ParleySession
from tests.realtime.helpers import Twilsock, make_key, token
from tests.webhooks.receiver import Received, Receiver

FAST = {"webhook_backoff": 0.05, "webhook_poll": 0.05, "webhook_timeout": 2.0}


@pytest.fixture
def parley(database_url: str) -> Iterator[ParleySession]:
    with ParleyServer(database_url, **FAST) as server:
        yield ParleySession(server, server.create_credentials())


@pytest.fixture
def http(parley: ParleySession) -> Iterator[httpx.Client]:
    creds = parley.credentials
    with httpx.Client(base_url=parley.url, auth=(creds.account_sid, creds.auth_token)) as client:
        yield client


def _service(http: httpx.Client, **settings: str) -> str:
    """A service with a channel "general" where alice and bob are members."""
    sid = str(http.post("/v2/Services", data={"FriendlyName": "sim"}).json()["sid"])
    if settings:
        http.post(f"/v2/Services/{sid}", data=settings).raise_for_status()
    http.post(f"/v2/Services/{sid}/Channels", data={"UniqueName": "general"}).raise_for_status()
    for identity in ("alice", "bob"):
        http.post(
            f"/v2/Services/{sid}/Channels/general/Members", data={"Identity": identity}
        ).raise_for_status()
    return sid


def _refused(call: Any) -> dict[str, Any]:
    with pytest.raises(httpx.HTTPStatusError) as caught:
        call()
    body: dict[str, Any] = caught.value.response.json()
    assert caught.value.response.status_code == body["status"]
    return body


def test_a_simulated_message_fires_post_events_as_sdk(
    parley: ParleySession, http: httpx.Client, receiver: Receiver
) -> None:
    sid = _service(
        http,
        PostWebhookUrl=receiver.url(),
        PreWebhookUrl=receiver.url("/pre"),
        WebhookFilters="onMessageSend",
    )
    http.post(
        f"/v2/Services/{sid}", data={"WebhookFilters": ["onMessageSend", "onMessageSent"]}
    ).raise_for_status()
    sent = parley.simulate_message(sid, "alice", "general", "Hello", attributes={"mood": "good"})
    assert (sent["from"], sent["body"], sent["index"]) == ("alice", "Hello", 0)
    fetched = http.get(f"/v2/Services/{sid}/Channels/general/Messages/{sent['sid']}").json()
    assert fetched == sent and fetched["attributes"] == '{"mood":"good"}'

    def post(r: Received) -> bool:
        return r.path == "/hook"

    [hook] = receiver.wait_for(1, where=post)
    assert hook.params["EventType"] == "onMessageSent" and hook.params["Source"] == "SDK"
    assert hook.params["ClientIdentity"] == "alice" and hook.params["Body"] == "Hello"
    [pre] = [r for r in receiver.received if r.path == "/pre"]
    assert pre.params["EventType"] == "onMessageSend" and pre.params["ClientIdentity"] == "alice"


def test_a_pre_event_webhook_can_reject_a_simulated_message(
    parley: ParleySession, http: httpx.Client, receiver: Receiver
) -> None:
    sid = _service(http, PreWebhookUrl=receiver.url("/pre"), WebhookFilters="onMessageSend")
    receiver.reply = lambda r: 403
    body = _refused(lambda: parley.simulate_message(sid, "alice", "general", "blocked"))
    assert (body["status"], body["code"]) == (403, 20403)
    listed = http.get(f"/v2/Services/{sid}/Channels/general/Messages").json()
    assert listed["messages"] == []
    assert [r.params["Body"] for r in receiver.received] == ["blocked"]


def test_role_checks_apply(parley: ParleySession, http: httpx.Client) -> None:
    sid = _service(http)
    http.post(f"/v2/Services/{sid}/Users", data={"Identity": "mallory"}).raise_for_status()
    body = _refused(lambda: parley.simulate_message(sid, "mallory", "general", "hi"))
    assert (body["status"], body["code"]) == (403, 50400)  # not a member
    body = _refused(lambda: parley.simulate_typing(sid, "mallory", "general"))
    assert body["code"] == 50400
    body = _refused(lambda: parley.simulate_message(sid, "nobody", "general", "hi"))
    assert body["code"] == 50200  # no such user
    other = ParleySession(parley.server, parley.server.create_credentials("other"))
    body = _refused(lambda: other.simulate_message(sid, "alice", "general", "hi"))
    assert body["code"] == 20404  # another account's service
    with httpx.Client(base_url=parley.url, auth=(other.credentials.account_sid, "x")) as bad:
        assert bad.post("/parley/v1/simulate/connect", json={}).status_code == 401


def test_simulated_typing_reaches_a_connected_client(
    parley: ParleySession, http: httpx.Client
) -> None:
    sid = _service(http)
    server: Any = parley.server
    key = make_key(server, parley.credentials.account_sid)
    bob = Twilsock(server)
    try:
        bob.init(token(parley.credentials.account_sid, key, "bob", sid))
        answer = parley.simulate_typing(sid, "alice", "general")
        assert answer == {"typing_timeout": 5}
        header, payload = bob.until("notification")
        assert header["message_type"] == "twilio.ipmsg.typing_indicator"
        assert payload["identity"] == "alice" and payload["typing_timeout"] == 5
        channel = http.get(f"/v2/Services/{sid}/Channels/general").json()["sid"]
        assert payload["channel_sid"] == channel
        # a simulated message is in the Sync view bob's client reads
        parley.simulate_message(sid, "alice", channel, "typed")
        status, listed = bob.request("GET", f"/v3/Lists/{channel}.messages/Items")
        assert status == 200, listed
        assert [(i["data"]["author"], i["data"]["text"]) for i in listed["items"]] == [
            ("alice", "typed")
        ]
    finally:
        bob.close()


def test_simulated_connections_move_is_online(parley: ParleySession, http: httpx.Client) -> None:
    sid = _service(http, ReachabilityEnabled="true")

    def online(identity: str) -> Any:
        return http.get(f"/v2/Services/{sid}/Users/{identity}").json()["is_online"]

    assert not online("alice")  # never connected
    assert parley.simulate_connect(sid, "alice")["connections"] == 1
    assert online("alice") is True
    assert parley.simulate_connect(sid, "alice")["connections"] == 2
    assert parley.simulate_disconnect(sid, "alice")["connections"] == 1
    assert online("alice") is True  # online while any connection is
    assert parley.simulate_disconnect(sid, "alice")["connections"] == 0
    assert online("alice") is False
    # the first connection of a new identity creates its user, as a socket's does
    parley.simulate_connect(sid, "carol")
    assert online("carol") is True
    # a reset forgets simulated connections
    parley.reset()
    sid = _service(http, ReachabilityEnabled="true")
    parley.simulate_connect(sid, "alice")
    assert parley.simulate_disconnect(sid, "alice")["connections"] == 0
    assert online("alice") is False
