"""One signed webhook request, and how its outcome is judged (docs/behaviour.md §W3, §W5).

Shared by post-event delivery (``worker``) and pre-event calls (``prehook``):
the same signer, HTTP client, timeout and retry rule.

Retryable: a timeout (5 s per attempt by default), HTTP 429, 503 or 504 — the
statuses Twilio's retry-count text names — and a connection that could not be
made or broke mid-request (the receiver never got the event, like a timeout;
docs/behaviour.md §W4 lists "connection failure" with timeouts). Any other status
outside 2xx is final. Redirects are not followed (a 3xx is final), as Twilio's
webhook requests do not follow them either [inferred]; so a receiver cannot
point Parley at an address the target check refused (``targets``).

A target that is not public (where private targets are refused) is never
contacted: the outcome says "refused" and is final, whatever the port, so the
delivery record tells nothing about what listens inside (docs/security.md,
"Webhook targets"). A receiver's answer is read up to ``BODY_MAX`` bytes.
"""

import time
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from parley.webhooks import signature, targets

RETRY_STATUSES = frozenset({429, 503, 504})
USER_AGENT = "TwilioProxy/1.1"  # docs/behaviour.md §W3 "other headers"
# a pre-event answer is a small JSON object (docs/behaviour.md §W4); what is longer is
# not read into memory (docs/security.md, "Webhook targets")
BODY_MAX = 64 * 1024


@dataclass(slots=True)
class Outcome:
    status: int | None  # None: no HTTP response (timeout, connection failure, bad URL)
    error: str | None
    latency_ms: float
    retryable: bool
    body: bytes = b""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def backoff(retry: int, base: float, factor: float = 4.0) -> float:
    """Seconds to wait before retry number ``retry`` (1, 2, 3).

    Twilio publishes no schedule (docs/behaviour.md §W5 [inferred]). ``base`` x 4^(n-1)
    with the default base of 2 s gives 2 s, 8 s, 32 s: with the maximum of 3
    retries a receiver that is down for 30 s still gets the event (issue #5);
    ``PARLEY_WEBHOOK_BACKOFF`` scales the whole schedule (tests use ~0.05).
    """
    return float(base * factor ** max(retry - 1, 0))


async def send(
    client: httpx.AsyncClient,
    *,
    url: str,
    method: str,
    params: Mapping[str, str],
    auth_token: str,
    timeout: float,
    idempotency_token: str | None = None,
) -> Outcome:
    target, body, signed = signature.request(auth_token, url, method, params)
    headers = {
        signature.HEADER: signed,
        "User-Agent": USER_AGENT,
        "Accept": "*/*",
    }
    if idempotency_token:
        headers["I-Twilio-Idempotency-Token"] = idempotency_token
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"
    started = time.perf_counter()
    request = client.build_request(
        "GET" if method.upper() == "GET" else "POST",
        target,
        content=body,
        headers=headers,
        timeout=timeout,
    )
    try:
        response = await client.send(request, stream=True, follow_redirects=False)
        try:
            content = await _read(response)
        finally:
            await response.aclose()
    except targets.Refused as exc:
        return Outcome(None, f"refused: {exc.reason}", 0.0, False)
    except httpx.TimeoutException:
        return Outcome(None, "timeout", _since(started), True)
    except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
        return Outcome(None, f"connection failed: {type(exc).__name__}", _since(started), True)
    except (httpx.HTTPError, ValueError) as exc:
        # invalid URL, unsupported scheme, ...: retrying cannot help
        return Outcome(None, f"request failed: {exc}", _since(started), False)
    status = response.status_code
    return Outcome(
        status,
        None if 200 <= status < 300 else f"HTTP {status}",
        _since(started),
        status in RETRY_STATUSES,
        content,
    )


async def _read(response: httpx.Response) -> bytes:
    """The answer's first BODY_MAX bytes; a longer answer is cut there."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= BODY_MAX:
            break
    return b"".join(chunks)[:BODY_MAX]


def _since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
