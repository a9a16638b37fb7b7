"""The control plane's webhook endpoints: the delivery record and fault injection."""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from parley.testing import ParleyServer, ParleySession
from tests.webhooks.receiver import Receiver


@pytest.fixture
def parley(database_url: str) -> Iterator[ParleySession]:
    with ParleyServer(database_url) as server:
        yield ParleySession(server, server.create_credentials())


@pytest.fixture
def http(parley: ParleySession) -> Iterator[httpx.Client]:
    creds = parley.credentials
    auth = (creds.account_sid, creds.auth_token)
    with httpx.Client(base_url=parley.url, auth=auth) as client:
        yield client


def _hooked(http: httpx.Client, receiver: Receiver, retries: int) -> str:
    sid = http.post("/v2/Services", data={"FriendlyName": "hooked"}).json()["sid"]
    http.post(
        f"/v2/Services/{sid}",
        data={
            "PostWebhookUrl": receiver.url(),
            "WebhookFilters": "onMessageSent",
            "PostWebhookRetryCount": str(retries),
        },
    ).raise_for_status()
    http.post(f"/v2/Services/{sid}/Channels", data={"UniqueName": "general"}).raise_for_status()
    return str(sid)


def _send(http: httpx.Client, sid: str, body: str) -> None:
    http.post(
        f"/v2/Services/{sid}/Channels/general/Messages",
        data={"Body": body, "From": "alice"},
        headers={"X-Twilio-Webhook-Enabled": "true"},
    ).raise_for_status()


def _outcomes(delivery: dict[str, Any]) -> list[Any]:
    return [(a["retry_count"], a["status"], a["error"]) for a in delivery["attempts"]]


def test_deliveries_say_what_was_sent_where_and_the_answer(
    parley: ParleySession, receiver: Receiver, http: httpx.Client
) -> None:
    sid = _hooked(http, receiver, retries=0)
    _send(http, sid, "hello")
    [delivery] = parley.wait_for_deliveries(1)
    assert delivery["state"] == "done" and delivery["event_type"] == "onMessageSent"
    assert (delivery["url"], delivery["method"]) == (receiver.url(), "POST")
    assert delivery["params"]["Body"] == "hello" and delivery["params"]["From"] == "alice"
    assert _outcomes(delivery) == [(0, 200, None)]
    [received] = receiver.wait_for(1)
    assert received.params["Body"] == "hello"
    assert parley.deliveries(state="failed") == []
    assert parley.deliveries(event_type="onMessageSent") == [delivery]


def test_injected_failures_are_retried_per_the_services_retry_count(
    parley: ParleySession, receiver: Receiver, http: httpx.Client
) -> None:
    sid = _hooked(http, receiver, retries=2)
    # two timeouts, then the real receiver: the third attempt (RetryCount 2) gets through
    parley.inject_fault(2, timeout=True)
    _send(http, sid, "one")
    [first] = parley.wait_for_deliveries(1)
    assert first["state"] == "done"
    assert _outcomes(first) == [
        (0, None, "timeout (injected)"),
        (1, None, "timeout (injected)"),
        (2, 200, None),
    ]
    [received] = receiver.wait_for(1)
    assert received.params["RetryCount"] == "2"
    # three 503s: the first attempt and both retries fail, and that is all
    parley.inject_fault(3, status=503)
    _send(http, sid, "two")
    [failed] = parley.wait_for_deliveries(1, state="failed")
    assert [a["status"] for a in failed["attempts"]] == [503, 503, 503]
    assert failed["params"]["Body"] == "two" and failed["last_status"] == 503
    # a status that is not retryable (500) fails at once, without using a retry
    parley.inject_fault(5, status=500)
    _send(http, sid, "three")
    settled = parley.wait_for_deliveries(3)
    assert _outcomes(settled[-1]) == [(0, 500, "HTTP 500 (injected)")]
    assert len(receiver.quiet(0.3)) == 1  # injected attempts never reach the receiver
    assert [f["remaining"] for f in parley.faults()] == [4]


def test_faults_match_url_and_event_type(
    parley: ParleySession, receiver: Receiver, http: httpx.Client
) -> None:
    sid = _hooked(http, receiver, retries=0)
    parley.inject_fault(1, status=503, url="http://elsewhere.test/")
    parley.inject_fault(1, status=429, event_type="onMessageSent")
    _send(http, sid, "x")
    [delivery] = parley.wait_for_deliveries(1)
    assert _outcomes(delivery) == [(0, 429, "HTTP 429 (injected)")]
    assert [f["url"] for f in parley.faults()] == ["http://elsewhere.test/"]
    parley.clear_faults()
    assert parley.faults() == []


def test_reset_forgets_deliveries_and_faults(
    parley: ParleySession, receiver: Receiver, http: httpx.Client
) -> None:
    sid = _hooked(http, receiver, retries=0)
    _send(http, sid, "before")
    parley.wait_for_deliveries(1)
    parley.inject_fault(3, timeout=True)
    parley.reset()
    assert parley.deliveries() == []
    assert parley.faults() == []
    sid = _hooked(http, receiver, retries=0)
    _send(http, sid, "after")
    [delivery] = parley.wait_for_deliveries(1)
    assert delivery["params"]["Body"] == "after" and delivery["state"] == "done"


def test_channel_webhook_deliveries_name_the_webhook(
    parley: ParleySession, receiver: Receiver, http: httpx.Client
) -> None:
    sid = _hooked(http, receiver, retries=0)
    hook = http.post(
        f"/v2/Services/{sid}/Channels/general/Webhooks",
        data={
            "Type": "webhook",
            "Configuration.Url": receiver.url("/channel"),
            "Configuration.Filters": ["onMessageSent"],
            "Configuration.RetryCount": "1",
        },
    ).json()
    parley.inject_fault(1, status=504, url=receiver.url("/channel"))
    _send(http, sid, "both")
    by_url = {d["url"]: d for d in parley.wait_for_deliveries(2)}
    service_hook, channel_hook = by_url[receiver.url()], by_url[receiver.url("/channel")]
    assert service_hook["webhook_sid"] is None and _outcomes(service_hook) == [(0, 200, None)]
    assert (channel_hook["webhook_sid"], channel_hook["webhook_type"]) == (hook["sid"], "webhook")
    assert channel_hook["params"]["WebhookSid"] == hook["sid"]
    assert [a["status"] for a in channel_hook["attempts"]] == [504, 200]


@pytest.mark.parametrize(
    "fault",
    [
        {"count": 1},
        {"count": 1, "status": 503, "timeout": True},
        {"count": 0, "status": 503},
        {"count": 1, "status": 99},
        {"count": "2", "status": 503},
        {"status": 503, "colour": "red"},
    ],
)
def test_bad_faults_are_refused(parley: ParleySession, fault: dict[str, Any]) -> None:
    creds = parley.credentials
    response = httpx.post(
        f"{parley.url}/parley/v1/faults", json=fault, auth=(creds.account_sid, creds.auth_token)
    )
    assert response.status_code == 400 and response.json()["code"] == 20001
    assert parley.faults() == []
