"""Pre-event calls against a local receiver: proceed, modify, reject, retry, fail closed."""

import asyncio
from typing import Any

import httpx
import orjson

from parley.store import repo
from parley.webhooks import params, prehook
from tests.webhooks.receiver import Receiver

TOKEN = "secret-token"


def _service(receiver: Receiver, **fields: Any) -> dict[str, Any]:
    return {
        "sid": "IS" + "0" * 32,
        "account_sid": "AC" + "0" * 32,
        "pre_webhook_url": receiver.url("/pre"),
        "webhook_method": None,
        "webhook_filters": orjson.dumps(["onMessageSend"]).decode(),
        "pre_webhook_retry_count": 0,
        **fields,
    }


def _call(service: dict[str, Any], event: str = "onMessageSend", **kw: Any) -> prehook.Decision:
    async def go() -> prehook.Decision:
        common = params.common(event, service["account_sid"], service["sid"], "sdk", "alice")
        async with httpx.AsyncClient() as client:
            return await prehook.call(
                client,
                service,
                TOKEN,
                event,
                {**common, "ChannelSid": "CH" + "1" * 32, "Body": "hello", "From": "alice"},
                timeout=kw.pop("timeout", 2.0),
                **kw,
            )

    return asyncio.run(go())


def test_2xx_proceeds_and_the_request_is_signed(receiver: Receiver) -> None:
    decision = _call(_service(receiver))
    assert decision.allowed and decision.called and decision.replacements == {}
    (got,) = receiver.received
    assert got.valid_for(TOKEN, receiver.url("/pre"))
    assert got.params["EventType"] == "onMessageSend" and got.params["Source"] == "SDK"
    assert got.params["ClientIdentity"] == "alice" and got.params["RetryCount"] == "0"


def test_json_body_modifies_known_fields_only(receiver: Receiver) -> None:
    receiver.script = [(200, b'{"body": "HELLO", "attributes": {"x": 1}, "author": "mallory"}')]
    decision = _call(_service(receiver))
    assert decision.allowed
    assert decision.replacements == {"body": "HELLO", "attributes": '{"x":1}'}


def test_non_retryable_status_rejects_at_once(receiver: Receiver) -> None:
    receiver.script = [403]
    decision = _call(_service(receiver, pre_webhook_retry_count=3))
    assert not decision.allowed and decision.status == 403 and decision.attempts == 1
    assert len(receiver.received) == 1


def test_retryable_failures_are_retried_then_proceed(receiver: Receiver) -> None:
    receiver.script = [503, 429]
    decision = _call(_service(receiver, pre_webhook_retry_count=2, webhook_method="GET"))
    assert decision.allowed and decision.attempts == 3
    assert [r.params["RetryCount"] for r in receiver.received] == ["0", "1", "2"]
    assert all(r.method == "GET" for r in receiver.received)
    assert all(r.valid_for(TOKEN, "") for r in receiver.received)


def test_fail_closed_by_default_fail_open_when_configured(receiver: Receiver) -> None:
    receiver.reply = lambda r: ("sleep", 0.5)
    closed = _call(_service(receiver, pre_webhook_retry_count=1), timeout=0.1)
    assert not closed.allowed and closed.error == "timeout" and closed.attempts == 2
    receiver.reply = lambda r: 504
    opened = _call(_service(receiver), fail_open=True)
    assert opened.allowed and opened.called and opened.status == 504


def test_unfiltered_event_or_no_url_is_not_called(receiver: Receiver) -> None:
    assert _call(_service(receiver), "onChannelAdd") == prehook.Decision(True)
    assert _call(_service(receiver, pre_webhook_url=None)) == prehook.Decision(True)
    assert receiver.received == []


def test_the_app_caller_signs_with_the_account_token(
    fast: Any, client: Any, service: Any, account: Any, receiver: Receiver
) -> None:
    client.chat.v2.services(service.sid).update(
        pre_webhook_url=receiver.url("/pre"), webhook_filters=["onMessageSend"]
    )
    receiver.script = [(200, b'{"body": "changed"}')]

    async def go() -> prehook.Decision:
        assert fast.app.store is not None and fast.app.prehooks is not None
        async with fast.app.store.read() as tx:
            row = await repo.get(tx, "services", {"sid": service.sid})
        assert row is not None
        common = params.common("onMessageSend", account.sid, service.sid, "sdk", "alice")
        return await fast.app.prehooks.call(row, "onMessageSend", {**common, "Body": "x"})

    decision = fast.run(go())
    assert decision.allowed and decision.replacements == {"body": "changed"}
    (got,) = receiver.received
    assert got.valid_for(account.auth_token, receiver.url("/pre"))
