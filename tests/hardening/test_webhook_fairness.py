"""Issue 18: tenant A's hanging receivers delayed tenant B's webhooks from
~20 ms to seconds. A worker sends at most PARLEY_WEBHOOK_ACCOUNT_CONCURRENCY
lanes of one account and PARLEY_WEBHOOK_TARGET_CONCURRENCY of one receiving
host at once (docs/security.md, "Webhook fairness")."""

import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from parley.testing import ParleyServer
from tests.webhooks.receiver import Receiver

SETTINGS = {
    "webhook_backoff": 0.05,
    "webhook_poll": 0.05,
    "webhook_timeout": 8.0,
    "webhook_concurrency": 4,
    "webhook_account_concurrency": 2,
    "webhook_target_concurrency": 3,
}


@pytest.fixture(scope="module")
def server() -> Iterator[ParleyServer]:
    with ParleyServer(**SETTINGS) as running:
        yield running


def _tenant(server: ParleyServer, receiver: Receiver, channels: int) -> httpx.Client:
    """An account whose service posts every new message to ``receiver``, with
    one message in each of ``channels`` channels (one lane each)."""
    creds = server.create_credentials()
    http = httpx.Client(base_url=server.url, auth=(creds.account_sid, creds.auth_token))
    sid = http.post("/v2/Services", data={"FriendlyName": "t"}).json()["sid"]
    http.post(
        f"/v2/Services/{sid}",
        data={"PostWebhookUrl": receiver.url(), "WebhookFilters": "onMessageSent"},
    ).raise_for_status()
    for n in range(channels):
        channel = http.post(f"/v2/Services/{sid}/Channels", data={"UniqueName": f"c{n}"}).json()
        http.post(
            f"/v2/Services/{sid}/Channels/{channel['sid']}/Messages",
            data={"Body": f"m{n}"},
            headers={"X-Twilio-Webhook-Enabled": "true"},
        ).raise_for_status()
    return http


def _hanging() -> Receiver:
    receiver = Receiver().start()
    receiver.gate = threading.Event()  # every reply waits until the gate opens
    return receiver


def test_one_tenants_hanging_receivers_leave_lanes_for_others(server: ParleyServer) -> None:
    hanging, fast = _hanging(), Receiver().start()
    try:
        a = _tenant(server, hanging, channels=8)
        hanging.wait_for(2)
        started = time.monotonic()
        b = _tenant(server, fast, channels=1)
        fast.wait_for(1, timeout=3)
        assert time.monotonic() - started < 3
        # A never had more than its two lanes in flight, though 4 were free
        assert len(hanging.quiet(0.3)) == 2
        assert hanging.answered == 0
        hanging.gate.set()
        hanging.wait_for(8)  # and A's deliveries all go out once its receiver answers
        a.close()
        b.close()
    finally:
        hanging.gate.set()
        hanging.stop()
        fast.stop()


def test_one_receiving_host_gets_a_bounded_share(server: ParleyServer) -> None:
    """Two tenants pointing at the same host: at most three requests at a time there."""
    shared, other = _hanging(), Receiver().start()
    try:
        first = _tenant(server, shared, channels=3)
        second = _tenant(server, shared, channels=3)
        shared.wait_for(3)
        third = _tenant(server, other, channels=1)
        other.wait_for(1, timeout=3)
        assert len(shared.quiet(0.3)) == 3
        shared.gate.set()
        shared.wait_for(6)
        for http in (first, second, third):
            http.close()
    finally:
        shared.gate.set()
        shared.stop()
        other.stop()
