"""``/healthz``, ``/readyz`` and Prometheus ``/metrics`` (docs/security.md,
"Health and metrics")."""

import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from parley.testing import ParleyServer
from tests.realtime.helpers import Twilsock, token
from tests.webhooks.receiver import Receiver

# one sample line of the text exposition format 0.0.4
SAMPLE = re.compile(
    r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? '
    r"(-?[0-9.e+-]+|\+Inf|NaN)$"
)


@pytest.fixture(scope="module")
def server() -> Iterator[ParleyServer]:
    with ParleyServer(metrics_token="scrape-me", webhook_poll=0.05) as running:
        yield running


def _metrics(server: ParleyServer) -> dict[str, float]:
    response = httpx.get(server.url + "/metrics", headers={"Authorization": "Bearer scrape-me"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    values: dict[str, float] = {}
    for line in response.text.splitlines():
        if line.startswith("#"):
            assert line.startswith(("# HELP ", "# TYPE ")), line
            continue
        assert SAMPLE.match(line), line
        name, value = line.rsplit(" ", 1)
        values[name] = float(value)
    return values


def _until(
    server: ParleyServer, condition: Callable[[dict[str, float]], bool], timeout: float = 10
) -> dict[str, float]:
    """The scraped metrics once ``condition`` holds for them, within ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not condition(values := _metrics(server)):
        assert time.monotonic() < deadline, values
        time.sleep(0.05)
    return values


def test_health_and_readiness(server: ParleyServer) -> None:
    health = httpx.get(server.url + "/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    ready = httpx.get(server.url + "/readyz")
    assert ready.status_code == 200, ready.text
    checks = ready.json()["checks"]
    assert {"database", "webhook_worker", "sync_hub"} <= set(checks)
    assert all(check["ok"] for check in checks.values())
    assert httpx.get(server.url + "/healthzz").status_code == 404


def test_metrics_need_the_token_when_one_is_set(server: ParleyServer) -> None:
    assert httpx.get(server.url + "/metrics").status_code == 401
    bad = {"Authorization": "Bearer nope"}
    assert httpx.get(server.url + "/metrics", headers=bad).status_code == 401


def test_requests_are_counted_by_route_and_status(server: ParleyServer) -> None:
    creds = server.create_credentials()
    with httpx.Client(base_url=server.url, auth=(creds.account_sid, creds.auth_token)) as http:
        before = _metrics(server)
        sid = http.post("/v2/Services", data={"FriendlyName": "m"}).json()["sid"]
        http.get(f"/v2/Services/{sid}")
        http.get("/v2/Services/IS" + "0" * 32)
        http.get("/v2/Nowhere")
    after = _metrics(server)

    def grew(series: str) -> float:
        return after.get(series, 0) - before.get(series, 0)

    assert grew('parley_http_requests_total{route="/v2/Services",method="POST",status="201"}') == 1
    fetch = '{route="/v2/Services/{Sid}",method="GET",status="200"}'
    assert grew("parley_http_requests_total" + fetch) == 1
    assert (
        grew('parley_http_requests_total{route="/v2/Services/{Sid}",method="GET",status="404"}')
        == 1
    )
    assert grew('parley_http_requests_total{route="(unmatched)",method="GET",status="404"}') == 1
    # the latency histogram: cumulative buckets, count = +Inf bucket
    buckets = {
        k: v
        for k, v in after.items()
        if k.startswith("parley_http_request_duration_seconds_bucket" + fetch[:-1])
    }
    counts = [
        buckets[k]
        for k in sorted(
            buckets, key=lambda k: float(k.rsplit('le="', 1)[1].rstrip('"}').replace("+Inf", "inf"))
        )
    ]
    assert (
        counts == sorted(counts)
        and counts[-1] == after["parley_http_request_duration_seconds_count" + fetch]
    )
    assert after["parley_http_request_duration_seconds_sum" + fetch] > 0


def test_webhook_queue_and_socket_gauges(server: ParleyServer) -> None:
    creds = server.create_credentials()
    receiver = Receiver().start()
    receiver.gate = threading.Event()
    sock = Twilsock(server)  # type: ignore[arg-type]
    http = httpx.Client(base_url=server.url, auth=(creds.account_sid, creds.auth_token))
    try:
        sid = http.post("/v2/Services", data={"FriendlyName": "q"}).json()["sid"]
        http.post(
            f"/v2/Services/{sid}",
            data={"PostWebhookUrl": receiver.url(), "WebhookFilters": "onChannelAdded"},
        ).raise_for_status()
        for n in range(3):
            http.post(
                f"/v2/Services/{sid}/Channels",
                data={"UniqueName": f"c{n}"},
                headers={"X-Twilio-Webhook-Enabled": "true"},
            ).raise_for_status()
        receiver.wait_for(1)  # held at the gate: three pending, one lane or more in flight
        _until(
            server,
            lambda v: (
                v["parley_webhook_queue_depth"] >= 3
                and v["parley_webhook_queue_oldest_age_seconds"] > 0
                and v["parley_webhook_lanes_in_flight"] >= 1
            ),
        )
        key = {"sid": creds.api_key_sid, "secret": creds.api_key_secret}
        sock.init(token(creds.account_sid, key, "alice", sid))
        values = _metrics(server)
        assert values['parley_ws_sessions{state="initialised"}'] >= 1
        assert values['parley_up{component="database"}'] == 1
        receiver.gate.set()
        receiver.wait_for(3)
        # each channel is a lane of its own, so all three may have arrived before
        # the gate opened and none be counted yet; the worker counts an attempt
        # after its answer, and a labelled series is exported from its first count
        _until(server, lambda v: v.get('parley_webhook_attempts_total{outcome="done"}', 0) >= 3)
    finally:
        receiver.gate.set()
        receiver.stop()
        sock.close()
        http.close()


def test_the_registry_takes_other_subsystems_metrics(server: ParleyServer) -> None:
    """How issue 13's push queue (or anything else) adds its own."""
    from parley.metrics import Sample

    registry = server.app.metrics.registry
    sent = registry.counter("parley_test_pushes_total", "pushes sent, by kind", ("kind",))
    sent.inc("fcm")
    sent.inc("fcm")

    async def depth() -> Any:
        return [Sample("parley_test_push_queue_depth", 7)]

    registry.collector("parley_test_push_queue_depth", "pushes waiting", "gauge", depth)
    values = _metrics(server)
    assert values['parley_test_pushes_total{kind="fcm"}'] == 2
    assert values["parley_test_push_queue_depth"] == 7
    with pytest.raises(ValueError):
        registry.counter("parley_test_pushes_total", "again")
