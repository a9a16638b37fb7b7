"""Issue 18, SSRF: webhook URLs on loopback, private and link-local addresses,
in any spelling, are refused when the URL is set and again when the request
is made (after DNS, with no redirect followed); a pre-event webhook's answer
from an internal URL never becomes a message (docs/security.md, "Webhook targets")."""

import asyncio
from collections.abc import Iterator
from typing import Any

import httpcore
import httpx
import pytest
from click.testing import CliRunner

from parley import cli
from parley.store import repo
from parley.testing import ParleyServer, ParleySession
from parley.webhooks import sender, targets
from tests.webhooks.receiver import Receiver

FAST = {"webhook_backoff": 0.05, "webhook_poll": 0.05, "webhook_timeout": 2.0}

PRIVATE = [
    "http://127.0.0.1:5432/",
    "http://[::1]/hook",
    "http://0.0.0.0:6379/",
    "http://2130706433/",
    "http://0x7f.1/",
    "http://0x7f000001/",
    "http://127.1/",
    "http://017700000001/",
    "http://user:pass@127.0.0.1/",
    "http://public.example.com\\@127.0.0.1/",
    "http://10.0.0.8/",
    "http://172.16.5.4/",
    "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.64.0.1/",
    "http://[fe80::1%25eth0]/",
    "http://[fd00::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:a00:1]/",
    "http://[64:ff9b::7f00:1]/",
    "http://[2002:7f00:1::]/",
    "http://[::]/",
    "http://localhost:8080/",
    "http://LocalHost./",
    "http://api.localhost/",
    "http://printer.local/",
    "http://metadata.google.internal/",
    "http://redis:6379/",
    "http://exa%6dple.com/",
    "http://1.2.3.4.5/",
    "http://224.0.0.1/",
]
PUBLIC = [
    "https://hooks.example.com/chat",
    "https://user:secret@hooks.example.com:8443/x?y=1",
    "http://93.184.216.34/hook",
    "http://[2606:4700:4700::1111]/",
    "http://8.8.8.8./",
]


@pytest.mark.parametrize("url", PRIVATE)
def test_private_spellings_are_refused(url: str) -> None:
    assert targets.refusal(url) is not None


@pytest.mark.parametrize("url", PUBLIC)
def test_public_targets_are_allowed(url: str) -> None:
    assert targets.refusal(url) is None


@pytest.fixture(scope="module")
def guarded() -> Iterator[ParleySession]:
    """A server as `parley serve` runs by default: private targets refused."""
    with ParleyServer(allow_private_webhooks=False, **FAST) as server:
        yield ParleySession(server, server.create_credentials())


@pytest.fixture
def http(guarded: ParleySession) -> Iterator[httpx.Client]:
    creds = guarded.credentials
    with httpx.Client(base_url=guarded.url, auth=(creds.account_sid, creds.auth_token)) as c:
        yield c
    guarded.reset()


def _service(http: httpx.Client) -> str:
    sid = str(http.post("/v2/Services", data={"FriendlyName": "ssrf"}).json()["sid"])
    http.post(f"/v2/Services/{sid}/Channels", data={"UniqueName": "general"}).raise_for_status()
    members = f"/v2/Services/{sid}/Channels/general/Members"
    http.post(members, data={"Identity": "alice"}).raise_for_status()
    return sid


@pytest.mark.parametrize("url", PRIVATE[:12] + PRIVATE[-8:])
def test_rest_refuses_private_targets_when_they_are_set(http: httpx.Client, url: str) -> None:
    sid = _service(http)
    for param, code in (("PostWebhookUrl", 50078), ("PreWebhookUrl", 50077)):
        response = http.post(f"/v2/Services/{sid}", data={param: url})
        assert response.status_code == 400, response.text
        body = response.json()
        assert body["code"] == code, body
        assert "PARLEY_ALLOW_PRIVATE_WEBHOOKS" in body["message"]
    service = http.get(f"/v2/Services/{sid}").json()
    assert service["post_webhook_url"] is None and service["pre_webhook_url"] is None
    hooks = f"/v2/Services/{sid}/Channels/general/Webhooks"
    data = {"Type": "webhook", "Configuration.Url": url, "Configuration.Filters": "onMessageSent"}
    response = http.post(hooks, data=data)
    assert response.status_code == 400 and response.json()["code"] == 20001, response.text
    assert "Configuration.Url" in response.json()["message"]
    assert http.get(hooks).json()["webhooks"] == []


def test_rest_accepts_public_targets(http: httpx.Client) -> None:
    sid = _service(http)
    for url in PUBLIC:
        response = http.post(f"/v2/Services/{sid}", data={"PostWebhookUrl": url})
        assert response.status_code == 200, response.text
        assert response.json()["post_webhook_url"] == url


def _store_urls(session: ParleySession, sid: str, **columns: Any) -> None:
    """Write URLs straight into the row, as one stored before the upgrade (or
    while private targets were allowed, or by a seed) would be."""
    store = session.server.app.store
    assert store is not None

    async def go() -> None:
        async with store.write() as tx:
            await repo.update(tx, "services", {"sid": sid}, columns)

    session.server.run(go())


def test_a_stored_private_target_is_refused_at_connect_time(
    guarded: ParleySession, http: httpx.Client, receiver: Receiver
) -> None:
    sid = _service(http)
    closed = Receiver().start()
    closed_url = closed.url()
    closed.stop()  # a port where nothing listens
    _store_urls(
        guarded,
        sid,
        post_webhook_url=receiver.url(),
        webhook_filters='["onMessageSent"]',
        post_webhook_retry_count=3,
    )
    headers = {"X-Twilio-Webhook-Enabled": "true"}
    messages = f"/v2/Services/{sid}/Channels/general/Messages"
    http.post(messages, data={"Body": "open port"}, headers=headers).raise_for_status()
    _store_urls(guarded, sid, post_webhook_url=closed_url)
    http.post(messages, data={"Body": "closed port"}, headers=headers).raise_for_status()
    settled = guarded.wait_for_deliveries(2)
    assert receiver.received == []
    # the record says the same for a listening port and a closed one: no oracle
    errors = {(d["state"], d["last_status"], d["last_error"]) for d in settled}
    assert errors == {
        ("failed", None, "refused: 127.0.0.1 resolves to an address that is not public")
    }
    for delivery in settled:
        [attempt] = delivery["attempts"]  # final at once: never retried
        assert attempt["latency_ms"] == 0.0


def test_a_pre_event_answer_from_an_internal_url_is_never_stored(
    guarded: ParleySession, http: httpx.Client, receiver: Receiver
) -> None:
    """The read-SSRF of issue 18: the internal service's answer became the body."""
    sid = _service(http)
    receiver.reply = lambda r: (200, b'{"body": "internal secret"}')
    _store_urls(
        guarded, sid, pre_webhook_url=receiver.url("/pre"), webhook_filters='["onMessageSend"]'
    )
    with pytest.raises(httpx.HTTPStatusError) as refused:
        guarded.simulate_message(sid, "alice", "general", "hello")
    assert refused.value.response.status_code == 403
    assert receiver.received == []
    listed = http.get(f"/v2/Services/{sid}/Channels/general/Messages").json()["messages"]
    assert listed == []


def _fake_resolver(answers: dict[str, list[str]]) -> targets.Resolver:
    async def resolve(host: str, port: int) -> list[str]:
        return answers[host]

    return resolve


@pytest.mark.parametrize(
    "addresses", [["127.0.0.1"], ["10.1.2.3"], ["93.184.216.34", "192.168.0.7"], ["::1"], []]
)
def test_a_name_that_resolves_inward_is_refused(addresses: list[str]) -> None:
    """DNS is asked once, by the check; every answer must be public."""
    resolve = _fake_resolver({"hooks.example.com": addresses})

    async def go() -> sender.Outcome:
        async with targets.client(False, resolve=resolve) as client:
            return await sender.send(
                client,
                url="https://hooks.example.com/chat",
                method="POST",
                params={"A": "1"},
                auth_token="t",
                timeout=2,
            )

    outcome = asyncio.run(go())
    assert outcome.status is None and not outcome.retryable
    assert outcome.error == "refused: hooks.example.com resolves to an address that is not public"


def test_the_connection_goes_to_the_address_that_was_checked() -> None:
    """No second lookup a rebinding DNS could answer differently."""
    dialed: list[str] = []

    class Recording(httpcore.AsyncMockBackend):
        async def connect_tcp(self, host: str, port: int, *args: Any, **kw: Any) -> Any:
            dialed.append(host)
            return await super().connect_tcp(host, port, *args, **kw)

    backend = targets.GuardedBackend(_fake_resolver({"hooks.example.com": ["93.184.216.34"]}))
    backend._inner = Recording([b"HTTP/1.1 204 No Content\r\n\r\n"])  # type: ignore[assignment]

    async def go() -> int:
        async with httpcore.AsyncConnectionPool(network_backend=backend) as pool:
            response = await pool.request("GET", "http://hooks.example.com/x")
            return response.status

    assert asyncio.run(go()) == 204
    assert dialed == ["93.184.216.34"]


def test_redirects_are_never_followed(receiver: Receiver) -> None:
    inner = Receiver().start()
    try:
        receiver.reply = lambda r: (307, b"")

        class Redirecting(httpx.AsyncBaseTransport):
            """The receiver's answer with a Location header to an internal URL."""

            def __init__(self) -> None:
                self.inner = httpx.AsyncHTTPTransport()

            async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
                response = await self.inner.handle_async_request(request)
                response.headers["Location"] = inner.url("/internal")
                return response

            async def aclose(self) -> None:
                await self.inner.aclose()

        async def go() -> sender.Outcome:
            async with httpx.AsyncClient(transport=Redirecting()) as client:
                return await sender.send(
                    client, url=receiver.url(), method="POST", params={}, auth_token="t", timeout=2
                )

        outcome = asyncio.run(go())
        assert outcome.status == 307 and not outcome.ok and not outcome.retryable
        assert inner.received == [] and len(receiver.received) == 1
    finally:
        inner.stop()


def test_a_long_answer_is_read_only_up_to_the_limit(receiver: Receiver) -> None:
    receiver.reply = lambda r: (200, b"x" * (sender.BODY_MAX * 16))

    async def go() -> sender.Outcome:
        async with targets.client(True) as client:
            return await sender.send(
                client, url=receiver.url(), method="POST", params={}, auth_token="t", timeout=5
            )

    outcome = asyncio.run(go())
    assert outcome.ok and len(outcome.body) == sender.BODY_MAX


def test_serve_refuses_and_dev_allows_private_targets_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[bool] = []
    monkeypatch.setattr(
        cli, "_run", lambda s, level, workers: seen.append(s.allow_private_webhooks)
    )
    monkeypatch.setattr(cli, "_with_store", lambda url, action: {"sid": "AC", "auth_token": "t"})
    monkeypatch.delenv("PARLEY_ALLOW_PRIVATE_WEBHOOKS", raising=False)
    runner = CliRunner()
    for args in (
        ["serve"],
        ["dev"],
        ["serve", "--allow-private-webhooks"],
        ["dev", "--refuse-private-webhooks"],
    ):
        assert runner.invoke(cli.main, args).exit_code == 0
    monkeypatch.setenv("PARLEY_ALLOW_PRIVATE_WEBHOOKS", "1")
    assert runner.invoke(cli.main, ["serve"]).exit_code == 0
    monkeypatch.setenv("PARLEY_ALLOW_PRIVATE_WEBHOOKS", "0")
    assert runner.invoke(cli.main, ["dev"]).exit_code == 0
    assert seen == [False, True, True, False, True, False]
