"""The push gateways: APNs (HTTP/2 provider API) and FCM (HTTP v1, legacy).

One ``Sender`` per credential, built from its opened secrets and cached by the
worker until the credential changes:

- ``Apns``: ``POST /3/device/{token}`` over one HTTP/2 connection (requests
  multiplexed as streams), the credential's Certificate + PrivateKey as the TLS
  client certificate, ``apns-topic`` = the certificate's bundle id (its subject
  UID, else what follows the CN's last ": "), ``apns-push-type: alert``.
  ``Sandbox`` picks the sandbox host.
- ``FcmV1``: the Secret is a service-account JSON: an OAuth2 access token from
  its ``token_uri`` (JWT-bearer grant, RS256 assertion signed with its
  private key, cached until a minute before it expires), then
  ``POST /v1/projects/{project_id}/messages:send``.
- ``FcmLegacy``: any other Secret (and a gcm ApiKey): ``POST /fcm/send`` with
  ``Authorization: key=…``. Google retired that API in 2024; it stays for relays
  that still speak it.

Base URLs come from PARLEY_APNS_URL, PARLEY_APNS_SANDBOX_URL and PARLEY_FCM_URL;
TLS trust is the system's, plus SSL_CERT_FILE when set. Outcomes
(docs/push.md, "Failures"): 2xx sent; connection errors, timeouts, 429
(``Retry-After`` honoured) and 5xx retried; a dead device (APNs 410 or
``BadDeviceToken``, FCM 404 / ``UNREGISTERED`` / ``NotRegistered``) deletes the
binding; a credential the gateway rejects (403, 401, a refused token grant) and
other 4xx fail at once.
"""

import asyncio
import os
import ssl
import tempfile
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import httpx
import jwt
import orjson
from cryptography import x509
from cryptography.x509.oid import NameOID

from parley.push import payload

FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_DEAD_APNS = frozenset({"BadDeviceToken", "Unregistered", "DeviceTokenNotForTopic"})
_DEAD_LEGACY = frozenset({"NotRegistered", "InvalidRegistration", "MissingRegistration"})
_RETRY_LEGACY = frozenset({"Unavailable", "InternalServerError", "DeviceMessageRateExceeded"})
# requests in flight on one HTTP/2 connection: the fewest concurrent streams
# RFC 9113 §6.5.2 recommends a server allow; beyond what the server allows,
# httpcore spins on the busy connection instead of queueing
STREAMS = 100


@dataclass(slots=True)
class Result:
    status: int | None  # None: no HTTP answer (connection failure, timeout)
    error: str | None = None
    latency_ms: float = 0.0
    retryable: bool = False
    dead: bool = False  # the device is gone: its binding is deleted
    retry_after: float | None = None  # seconds the gateway asked to wait

    @property
    def ok(self) -> bool:
        return self.error is None and self.status is not None and 200 <= self.status < 300


class Unusable(Exception):
    """The credential cannot send (missing, unreadable, malformed): final."""


class Sender(Protocol):
    async def send(self, address: str, content: dict[str, Any]) -> Result: ...

    async def aclose(self) -> None: ...


def tls_context() -> ssl.SSLContext:
    """The system's trust, plus SSL_CERT_FILE (a test CA, a proxy's) when set."""
    context = ssl.create_default_context()
    extra = os.environ.get("SSL_CERT_FILE")
    if extra and os.path.exists(extra):
        context.load_verify_locations(cafile=extra)
    return context


def bundle_id(certificate_pem: str) -> str:
    """The app's bundle id an APNs certificate is for: its subject UID, else
    the part of its CN after the last ": " ("Apple Push Services: com.x.y")."""
    cert = x509.load_pem_x509_certificate(certificate_pem.encode())
    uid = cert.subject.get_attributes_for_oid(NameOID.USER_ID)
    if uid:
        return str(uid[0].value)
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(cn[0].value).rsplit(": ", 1)[-1] if cn else ""


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _reason(response: httpx.Response) -> str:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return response.text[:200]
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):  # FCM v1 / Google APIs
            codes = [
                d.get("errorCode")
                for d in error.get("details") or []
                if isinstance(d, dict) and d.get("errorCode")
            ]
            return str(codes[0] if codes else error.get("status") or error.get("message") or "")
        return str(body.get("reason") or error or body.get("error_description") or "")
    return ""


def _judge(response: httpx.Response, started: float, dead: bool) -> Result:
    """The common rule: 2xx sent, 429/5xx retried, ``dead`` drops the binding,
    anything else fails."""
    status = response.status_code
    latency = _since(started)
    if 200 <= status < 300:
        return Result(status, None, latency)
    reason = _reason(response)
    error = f"HTTP {status}" + (f" {reason}" if reason else "")
    if dead:
        return Result(status, error, latency, dead=True)
    if status == 429 or status >= 500:
        return Result(status, error, latency, retryable=True, retry_after=_retry_after(response))
    return Result(status, error, latency)


async def _post(client: httpx.AsyncClient, url: str, **kwargs: Any) -> httpx.Response | Result:
    started = time.perf_counter()
    try:
        return await client.post(url, **kwargs)
    except httpx.TimeoutException:
        return Result(None, "timeout", _since(started), retryable=True)
    except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
        return Result(None, f"connection failed: {type(exc).__name__}", _since(started), True)
    except (httpx.HTTPError, ValueError) as exc:
        return Result(None, f"request failed: {exc}", _since(started))


def _since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


class Apns:
    def __init__(self, secrets: dict[str, str], sandbox: bool, base_url: str, timeout: float):
        self.topic = bundle_id(secrets["certificate"])
        context = tls_context()
        # ssl loads a client certificate only from files: a private directory,
        # removed as soon as the context holds them
        with tempfile.TemporaryDirectory(prefix="parley-apns-") as folder:
            path = os.path.join(folder, "client.pem")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secrets["certificate"].strip() + "\n" + secrets["private_key"].strip())
            try:
                context.load_cert_chain(path)
            except ssl.SSLError as exc:
                raise Unusable(f"certificate not usable: {exc.reason}") from None
        self.base_url = base_url.rstrip("/")
        self.sandbox = sandbox
        self._streams = asyncio.Semaphore(STREAMS)
        # one connection, every push a stream on it
        self.client = httpx.AsyncClient(
            http2=True,
            verify=context,
            timeout=timeout,
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        )

    async def send(self, address: str, content: dict[str, Any]) -> Result:
        async with self._streams:
            return await self._send(address, content)

    async def _send(self, address: str, content: dict[str, Any]) -> Result:
        started = time.perf_counter()
        answer = await _post(
            self.client,
            f"{self.base_url}/3/device/{address}",
            content=orjson.dumps(payload.apns(content)),
            headers={
                "apns-topic": self.topic,
                "apns-push-type": "alert",
                "apns-priority": "10",
                "content-type": "application/json",
            },
        )
        if isinstance(answer, Result):
            return answer
        dead = answer.status_code == 410 or (
            answer.status_code == 400 and _reason(answer) in _DEAD_APNS
        )
        return _judge(answer, started, dead)

    async def aclose(self) -> None:
        await self.client.aclose()


class FcmLegacy:
    def __init__(self, client: httpx.AsyncClient, api_key: str, base_url: str) -> None:
        self.client, self.key, self.url = client, api_key, base_url.rstrip("/") + "/fcm/send"

    async def send(self, address: str, content: dict[str, Any]) -> Result:
        started = time.perf_counter()
        answer = await _post(
            self.client,
            self.url,
            content=orjson.dumps(payload.fcm_legacy(address, content)),
            headers={"Authorization": f"key={self.key}", "Content-Type": "application/json"},
        )
        if isinstance(answer, Result):
            return answer
        result = _judge(answer, started, dead=False)
        if not result.ok:
            if answer.status_code == 401:
                result.error = "HTTP 401 credential rejected"
            return result
        # 200 with a per-device result: {"results": [{"error": "NotRegistered"}]}
        try:
            body = orjson.loads(answer.content)
            error = str((body.get("results") or [{}])[0].get("error") or "")
        except (orjson.JSONDecodeError, AttributeError, IndexError, TypeError):
            error = ""
        if not error:
            return result
        if error in _DEAD_LEGACY:
            return Result(200, error, result.latency_ms, dead=True)
        return Result(200, error, result.latency_ms, retryable=error in _RETRY_LEGACY)

    async def aclose(self) -> None:
        """The HTTP client is shared by every FCM credential (the worker's)."""


class FcmV1:
    def __init__(self, client: httpx.AsyncClient, account: dict[str, Any], base_url: str) -> None:
        try:
            self.project = str(account["project_id"])
            self.email = str(account["client_email"])
            self.key = str(account["private_key"])
            self.token_uri = str(account.get("token_uri") or "https://oauth2.googleapis.com/token")
        except KeyError as exc:
            raise Unusable(f"service account JSON without {exc.args[0]}") from None
        self.client = client
        self.url = f"{base_url.rstrip('/')}/v1/projects/{self.project}/messages:send"
        self._token: tuple[str, float] | None = None
        self._lock = asyncio.Lock()

    async def _access_token(self) -> str | Result:
        """A cached token, or a new one from ``token_uri`` (one request however
        many pushes wait for it)."""
        async with self._lock:
            if self._token is not None and self._token[1] > time.time():
                return self._token[0]
            now = int(time.time())
            claims = {
                "iss": self.email,
                "scope": FCM_SCOPE,
                "aud": self.token_uri,
                "iat": now,
                "exp": now + 3600,
            }
            try:
                assertion = jwt.encode(claims, self.key, algorithm="RS256")
            except (ValueError, TypeError, jwt.PyJWTError) as exc:
                return Result(None, f"service account key not usable: {type(exc).__name__}")
            started = time.perf_counter()
            answer = await _post(
                self.client,
                self.token_uri,
                data={"grant_type": JWT_BEARER, "assertion": assertion},
            )
            if isinstance(answer, Result):
                return answer
            if answer.status_code != 200:
                result = _judge(answer, started, dead=False)
                result.error = f"token grant refused: {result.error}"
                return result
            try:
                body = orjson.loads(answer.content)
                token, lifetime = str(body["access_token"]), float(body.get("expires_in", 3600))
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                return Result(200, "token grant answered no access_token", _since(started))
            self._token = (token, time.time() + max(lifetime - 60, 1))
            return token

    async def send(self, address: str, content: dict[str, Any]) -> Result:
        token = await self._access_token()
        if isinstance(token, Result):
            return token
        started = time.perf_counter()
        answer = await _post(
            self.client,
            self.url,
            content=orjson.dumps(payload.fcm_v1(address, content)),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        if isinstance(answer, Result):
            return answer
        if answer.status_code == 401:
            # the token expired early or was revoked: a new one on the retry
            self._token = None
            return Result(401, "HTTP 401 access token refused", _since(started), retryable=True)
        dead = answer.status_code == 404 or _reason(answer) == "UNREGISTERED"
        return _judge(answer, started, dead)

    async def aclose(self) -> None:
        """The HTTP client is shared by every FCM credential (the worker's)."""


def fcm(client: httpx.AsyncClient, secret: str, base_url: str) -> Sender:
    """A service-account JSON speaks HTTP v1; any other secret is a legacy server key."""
    try:
        account = orjson.loads(secret)
    except orjson.JSONDecodeError:
        account = None
    if isinstance(account, dict):
        return FcmV1(client, account, base_url)
    return FcmLegacy(client, secret.strip(), base_url)
