"""Testing an app that uses Twilio Programmable Chat, with Parley's pytest plugin.

Parley installs the plugin: ``pip install parley`` and these fixtures exist.
"""

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import pytest


# ---- the application under test (normally imported from your package) ----
def announce(client: Any, service_sid: str, text: str) -> Any:
    channel = client.chat.v2.services(service_sid).channels("announcements")
    return channel.messages.create(from_="bot", body=text, x_twilio_webhook_enabled="true")


# ---- seeds: the state a test starts from ----------------------------------
SEED = """
services:
  - friendly_name: Newsroom
    roles:
      - {friendly_name: editor, type: channel, permissions: [sendMessage, deleteAnyMessage]}
    channels:
      - unique_name: announcements
        members: [alice, {identity: bob, role: editor}]
        messages:
          - {from: alice, body: Welcome}
"""


@pytest.fixture
def newsroom(parley: Any, parley_client: Any) -> Any:
    parley.seed(SEED)  # POST /parley/v1/seed; reset again after the test
    [service] = parley_client.chat.v2.services.list()
    return service


def test_announcement_follows_the_seeded_message(parley_client: Any, newsroom: Any) -> None:
    announce(parley_client, newsroom.sid, "Maintenance at 6")
    channel = parley_client.chat.v2.services(newsroom.sid).channels("announcements")
    assert [(m.index, m._from, m.body) for m in channel.messages.list()] == [
        (0, "alice", "Welcome"),
        (1, "bot", "Maintenance at 6"),
    ]


def test_every_test_starts_empty(parley_client: Any, parley_service: Any) -> None:
    # parley_service is a fresh service; nothing of the previous test is left
    assert [s.sid for s in parley_client.chat.v2.services.list()] == [parley_service.sid]


def test_state_dump(parley: Any, newsroom: Any) -> None:
    tables = parley.state()["tables"]  # the stored rows, as `parley export` writes them
    assert [c["unique_name"] for c in tables["channels"]] == ["announcements"]
    assert sorted(m["identity"] for m in tables["members"]) == ["alice", "bob"]


# ---- webhooks: what Parley sent, and faults --------------------------------
@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A local webhook receiver: (its URL, the parameters of each request)."""
    received: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            received.append(dict(parse_qsl(body)))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()
    server.server_close()


def test_webhook_deliveries_and_faults(
    parley: Any, parley_client: Any, newsroom: Any, receiver: Any
) -> None:
    url, received = receiver
    parley_client.chat.v2.services(newsroom.sid).update(
        post_webhook_url=url, webhook_filters=["onMessageSent"], post_webhook_retry_count=2
    )
    parley.inject_fault(2, timeout=True)  # the next two attempts time out
    announce(parley_client, newsroom.sid, "Coffee is ready")

    [delivery] = parley.wait_for_deliveries(1)
    assert delivery["state"] == "done" and delivery["url"] == url
    assert delivery["params"]["Body"] == "Coffee is ready"
    assert [(a["retry_count"], a["status"]) for a in delivery["attempts"]] == [
        (0, None),
        (1, None),
        (2, 200),
    ]
    assert [r["RetryCount"] for r in received] == ["2"]  # faults never reach the receiver

    parley.inject_fault(3, status=503)  # more failures than retries: the delivery fails
    announce(parley_client, newsroom.sid, "Lunch")
    [failed] = parley.wait_for_deliveries(1, state="failed")
    assert failed["last_status"] == 503 and len(failed["attempts"]) == 3


# ---- simulated clients: what a user's own app would do ---------------------
def test_a_client_message_reaches_the_webhook(
    parley: Any, parley_client: Any, newsroom: Any, receiver: Any
) -> None:
    url, received = receiver
    service = parley_client.chat.v2.services(newsroom.sid)
    service.update(
        post_webhook_url=url, webhook_filters=["onMessageSent"], reachability_enabled=True
    )
    parley.simulate_connect(newsroom.sid, "alice")  # alice's app connects: she is online
    assert service.users("alice").fetch().is_online is True
    sent = parley.simulate_message(newsroom.sid, "alice", "announcements", "Sent from my phone")
    assert (sent["from"], sent["index"]) == ("alice", 1)  # the message as REST renders it
    [delivery] = parley.wait_for_deliveries(1)
    assert delivery["params"]["Source"] == "SDK"
    assert delivery["params"]["ClientIdentity"] == "alice"
    assert [r["Body"] for r in received] == ["Sent from my phone"]
    parley.simulate_disconnect(newsroom.sid, "alice")
    assert service.users("alice").fetch().is_online is False
