"""Pre-event webhooks: a synchronous call that can reject or modify an action.

Called by client (SDK) actions before their transaction (docs/behaviour.md §W4); REST
calls never trigger them (docs/behaviour.md §C6). Same signer, HTTP client and
retry rule as post-events (``sender``), but inline: retries follow each other
without back-off, because a client is waiting.

::

    action ──app.prehooks.call(service, "onMessageSend", params)──> Decision
      allowed  -> apply decision.replacements, validate them like the request,
                  then commit (and its post-event goes to the outbox)
      rejected -> the client gets an error; nothing is stored, no post-event

Outcomes (docs/behaviour.md §W4): 2xx proceeds, with replacement fields from a JSON
object body; a non-retryable status rejects; timeout, connection failure, 429,
503, 504 are retried ``pre_webhook_retry_count`` times, then reject (fail
closed) unless ``fail_open`` (docs/decisions.md §38, PARLEY_PREHOOK_FAIL_OPEN).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from parley import accounts
from parley.config import Settings
from parley.domain import services
from parley.store import Store
from parley.webhooks import sender, targets

# docs/behaviour.md §W4: keys a 2xx JSON body may replace, per pre-event
# (message rows confirmed by the retired docs; others by analogy, docs/decisions.md §39)
REPLACEABLE: dict[str, frozenset[str]] = {
    "onMessageSend": frozenset({"body", "attributes"}),
    "onMessageUpdate": frozenset({"body", "attributes"}),
    "onMediaMessageSend": frozenset({"attributes"}),
    "onChannelAdd": frozenset({"friendlyName", "uniqueName", "attributes"}),
    "onChannelUpdate": frozenset({"friendlyName", "uniqueName", "attributes"}),
    "onMemberAdd": frozenset({"attributes", "roleSid"}),
    "onMemberUpdate": frozenset({"attributes", "roleSid"}),
    "onUserUpdate": frozenset({"friendlyName", "attributes"}),
}


@dataclass(slots=True)
class Decision:
    allowed: bool
    replacements: dict[str, str] = field(default_factory=dict)
    called: bool = False  # False: no pre-event webhook configured for this event
    status: int | None = None
    error: str | None = None
    attempts: int = 0


def wanted(service: services.Service, event_name: str) -> bool:
    """Whether the service has a pre-event URL and lists this event in its filters."""
    if not service.get("pre_webhook_url"):
        return False
    try:
        filters = orjson.loads(service.get("webhook_filters") or "[]")
    except orjson.JSONDecodeError:
        return False
    return isinstance(filters, list) and event_name in filters


async def call(
    client: httpx.AsyncClient,
    service: services.Service,
    auth_token: str,
    event_name: str,
    params: Mapping[str, str],
    *,
    timeout: float = 5.0,
    fail_open: bool = False,
) -> Decision:
    """Ask the service's pre-event URL about an action; ``params`` are the
    event's parameters (common ones included; ``RetryCount`` is set here)."""
    if not wanted(service, event_name):
        return Decision(True)
    url = str(service["pre_webhook_url"])
    method = "GET" if (service.get("webhook_method") or "").upper() == "GET" else "POST"
    retries = int(service.get("pre_webhook_retry_count") or 0)
    outcome: sender.Outcome | None = None
    attempt = 0
    for attempt in range(retries + 1):
        outcome = await sender.send(
            client,
            url=url,
            method=method,
            params={**params, "EventType": event_name, "RetryCount": str(attempt)},
            auth_token=auth_token,
            timeout=timeout,
        )
        if not outcome.retryable:
            break
    assert outcome is not None
    done = attempt + 1
    if outcome.ok:
        return Decision(
            True, _replacements(event_name, outcome.body), True, outcome.status, None, done
        )
    if outcome.retryable and fail_open:
        return Decision(True, {}, True, outcome.status, outcome.error, done)
    return Decision(False, {}, True, outcome.status, outcome.error, done)


def _replacements(event_name: str, body: bytes) -> dict[str, str]:
    """Known keys of a JSON object body, as strings; anything else is ignored."""
    allowed = REPLACEABLE.get(event_name, frozenset())
    if not body.strip():
        return {}
    try:
        data: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}
    if not isinstance(data, dict):
        return {}
    out: dict[str, str] = {}
    for key, value in data.items():
        if key in allowed and value is not None:
            out[key] = value if isinstance(value, str) else orjson.dumps(value).decode()
    return out


class PreHooks:
    """The app's pre-event caller: one HTTP client, the account's Auth Token read
    from the store, timeout and fail-open policy from the settings.

    ``await app.prehooks.call(service, "onMessageSend", params)`` from a client
    action, before its write transaction.
    """

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        # no pool-wide connection limit: one tenant's slow receiver must not
        # hold the connections another tenant's pre-events need
        # (docs/security.md, "Webhook fairness"); requests bound their number
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=64)
        self.client = targets.client(settings.allow_private_webhooks, limits)

    async def call(
        self, service: services.Service, event_name: str, params: Mapping[str, str]
    ) -> Decision:
        if not wanted(service, event_name):
            return Decision(True)
        async with self.store.read() as tx:
            account = await accounts.account(tx, service["account_sid"])
        if account is None:
            return Decision(False, error="account no longer exists")
        return await call(
            self.client,
            service,
            str(account["auth_token"]),
            event_name,
            params,
            timeout=self.settings.webhook_timeout,
            fail_open=self.settings.prehook_fail_open,
        )

    async def close(self) -> None:
        await self.client.aclose()
