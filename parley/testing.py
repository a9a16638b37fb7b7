"""Parley as a test double: a real server in your test process, and pytest fixtures.

Installed with Parley as a pytest plugin (entry point ``pytest11``), so any
project that depends on ``parley`` gets these fixtures::

    def test_my_app(parley_client, parley_service):
        my_app.notify(parley_client, parley_service.sid, "hello")
        [message] = parley_client.chat.v2.services(parley_service.sid) \\
            .channels("general").messages.list()

- ``parley_server`` (session): a Parley on a free port, SQLite in a temporary
  folder, control plane on, with an account and an API key.
- ``parley`` (function): the same server; the account is reset after the test.
- ``parley_client`` / ``parley_service`` (function): a ``twilio.rest.Client``
  authenticated with the API key and pointed at Parley, and a fresh service
  (the twilio SDK is needed: ``pip install 'parley[testing]'``).
- ``parley_session_client`` / ``parley_session_service``: the same on a second
  account of the same server, never reset (for state shared by a whole run).

``ParleyServer`` can also be used without pytest (``with ParleyServer() as p:``).
"""

import asyncio
import secrets
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import pytest

from parley import accounts
from parley.app import Parley, build_app
from parley.config import Settings

# what a project that uses the client fixtures without the twilio SDK is told
NEEDS_TWILIO = (
    "Parley's parley_client fixtures build the official twilio SDK's Client, and the"
    " twilio package is not installed: pip install twilio"
    " (or pip install 'parley[testing]', which brings it and pytest)"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Credentials:
    account_sid: str
    auth_token: str
    api_key_sid: str
    api_key_secret: str


class ParleyServer:
    """A real Parley (uvicorn) on a thread of this process."""

    def __init__(self, database_url: str | None = None, **settings: Any) -> None:
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if database_url is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="parley-")
            database_url = f"sqlite:///{Path(self._tmp.name) / 'parley.db'}"
        self.database_url = database_url
        # a given port: a restart on the same address (real-time reconnect tests)
        self.port = int(settings.pop("port", 0)) or free_port()
        # tls=(certificate file, key file): served over HTTPS (and wss://), the
        # certificate trusted by this server's own http client
        self.tls: tuple[str, str] | None = settings.pop("tls", None)
        scheme = "https" if self.tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        config = Settings()
        config.host, config.port, config.database_url = "127.0.0.1", self.port, database_url
        config.public_url, config.control_plane = (self.url if self.tls else None), True
        # push credentials are encrypted at rest: a key for this server's life
        config.secret_key = config.secret_key or secrets.token_urlsafe(32)
        # the suite's webhook receivers run on 127.0.0.1 (docs/security.md,
        # "Webhook targets"); pass allow_private_webhooks=False to test refusals
        config.allow_private_webhooks = True
        # a test double delivers webhooks at test speed: retries after 0.05 s,
        # 0.2 s, 0.8 s instead of 2 s, 8 s, 32 s (pass webhook_backoff=... to change)
        config.webhook_backoff, config.webhook_poll = 0.05, 0.05
        # pushes: recorded, not sent (no gateway here), at test speed; pass
        # push_record_only=False and apns_url=/fcm_url=... to send them
        config.push_record_only, config.push_backoff, config.push_poll = True, 0.05, 0.05
        for key, value in settings.items():
            setattr(config, key, value)
        self.settings = config
        self.app: Parley = build_app(config)
        self.loop: asyncio.AbstractEventLoop | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._http: httpx.Client | None = None

    @property
    def http(self) -> httpx.Client:
        """One keep-alive client for the control plane: a reset between tests
        costs ~2 ms instead of ~35 ms for a new client per call."""
        if self._http is None:
            verify = ssl.create_default_context(cafile=self.tls[0]) if self.tls else True
            self._http = httpx.Client(base_url=self.url, timeout=30, verify=verify)
        return self._http

    def start(self) -> "ParleyServer":
        import uvicorn

        from parley.server import DrainingServer, uvicorn_options

        options = uvicorn_options(self.settings)
        if self.tls:
            options.update(ssl_certfile=self.tls[0], ssl_keyfile=self.tls[1])
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", **options
        )
        # real-time clients are offloaded (twilsock 308) before their sockets close
        self._server = DrainingServer(config, self.app)
        ready = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self.loop = loop
            ready.set()
            loop.run_until_complete(self._server.serve())
            loop.close()

        self._thread = threading.Thread(target=serve, name="parley-server", daemon=True)
        self._thread.start()
        ready.wait(5)
        deadline = time.monotonic() + 20
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("Parley did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> "ParleyServer":
        return self.start()

    def __exit__(self, *exc: tuple[type[BaseException], BaseException, TracebackType]) -> None:
        self.stop()

    def run(self, coro: Any) -> Any:
        """Run a coroutine on the server's own event loop (direct store access)."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def create_credentials(self, friendly_name: str = "tests") -> Credentials:
        store = self.app.store
        assert store is not None
        account = self.run(accounts.create_account(store, friendly_name))
        key = self.run(accounts.create_key(store, account["sid"]))
        return Credentials(account["sid"], account["auth_token"], key["sid"], key["secret"])

    def reset(self, credentials: Credentials) -> None:
        """Remove every resource of the account (through the control plane)."""
        response = self.http.post(
            "/parley/v1/reset", auth=(credentials.account_sid, credentials.auth_token)
        )
        response.raise_for_status()

    def client(self, credentials: Credentials) -> Any:
        try:
            from twilio.rest import Client
        except ImportError as exc:
            raise ImportError(NEEDS_TWILIO) from exc

        client = Client(
            credentials.api_key_sid, credentials.api_key_secret, credentials.account_sid
        )
        client.chat.base_url = self.url
        return client


# ------------------------------------------------------------------ fixtures


@dataclass
class ParleySession:
    server: ParleyServer
    credentials: Credentials

    @property
    def url(self) -> str:
        return self.server.url

    def client(self) -> Any:
        return self.server.client(self.credentials)

    def reset(self) -> None:
        self.server.reset(self.credentials)

    def _control(self, method: str, name: str, **kwargs: Any) -> Any:
        auth = (self.credentials.account_sid, self.credentials.auth_token)
        response = self.server.http.request(method, f"/parley/v1/{name}", auth=auth, **kwargs)
        response.raise_for_status()
        return response.json()

    def state(self) -> dict[str, Any]:
        """The account's state dump (``GET /parley/v1/state``)."""
        return dict(self._control("GET", "state"))

    def seed(self, seed: str | dict[str, Any]) -> dict[str, Any]:
        """Apply a YAML seed (text) or a mapping / state dump (``POST /parley/v1/seed``)."""
        if isinstance(seed, str):
            headers = {"Content-Type": "application/yaml"}
            return dict(self._control("POST", "seed", content=seed, headers=headers))
        return dict(self._control("POST", "seed", json=seed))

    def deliveries(self, **filters: Any) -> list[dict[str, Any]]:
        """Webhook deliveries so far (filters: state, event_type, limit)."""
        found = self._control("GET", "webhooks/deliveries", params=filters)
        return list(found["deliveries"])

    def wait_for_deliveries(
        self, count: int = 1, timeout: float = 10.0, **filters: Any
    ) -> list[dict[str, Any]]:
        """Block until ``count`` matching deliveries are settled (no longer
        pending: done, failed or skipped); returns the settled ones."""
        return _settled(lambda: self.deliveries(**filters), count, timeout, "deliveries")

    def pushes(self, **filters: Any) -> list[dict[str, Any]]:
        """Push notifications so far, oldest first (filters: state, identity,
        type, limit): to whom, which binding, what they said, how it went.
        The plugin's server records pushes without contacting APNs or FCM
        (state ``recorded``) unless gateway URLs are configured."""
        return list(self._control("GET", "pushes", params=filters)["pushes"])

    def wait_for_pushes(
        self, count: int = 1, timeout: float = 10.0, **filters: Any
    ) -> list[dict[str, Any]]:
        """Block until ``count`` matching pushes are settled (no longer pending);
        returns the settled ones: ``parley.wait_for_pushes(identity="bob")``."""
        return _settled(lambda: self.pushes(**filters), count, timeout, "pushes")

    def inject_fault(
        self,
        count: int = 1,
        *,
        status: int | None = None,
        timeout: bool = False,
        url: str | None = None,
        event_type: str | None = None,
    ) -> None:
        """Make the next ``count`` webhook deliveries time out or answer ``status``."""
        fault: dict[str, Any] = {"count": count, "url": url, "event_type": event_type}
        fault.update({"timeout": True} if timeout else {"status": status})
        self._control("POST", "faults", json=fault)

    def faults(self) -> list[dict[str, Any]]:
        """The injected faults still to come (``remaining`` uses each)."""
        return list(self._control("GET", "faults")["faults"])

    def clear_faults(self) -> None:
        self._control("DELETE", "faults")

    # simulated clients: the real-time client API's actions without a socket
    # (POST /parley/v1/simulate/…); a refusal raises httpx.HTTPStatusError, whose
    # ``response.json()`` is the Twilio error body the client would get

    def simulate_message(
        self, service_sid: str, identity: str, channel: str, body: str | None = None, **fields: Any
    ) -> dict[str, Any]:
        """``identity`` sends a message from its client (``attributes``,
        ``media_sid`` in ``fields``); returns the message as REST renders it."""
        data = {"service_sid": service_sid, "identity": identity, "channel": channel, **fields}
        if body is not None:
            data["body"] = body
        return dict(self._control("POST", "simulate/message", json=data))

    def simulate_typing(self, service_sid: str, identity: str, channel: str) -> dict[str, Any]:
        """``identity`` starts typing in ``channel`` (members' sockets are told)."""
        data = {"service_sid": service_sid, "identity": identity, "channel": channel}
        return dict(self._control("POST", "simulate/typing", json=data))

    def simulate_connect(self, service_sid: str, identity: str) -> dict[str, Any]:
        """A client of ``identity`` connects (online, with reachability enabled)."""
        data = {"service_sid": service_sid, "identity": identity}
        return dict(self._control("POST", "simulate/connect", json=data))

    def simulate_disconnect(self, service_sid: str, identity: str) -> dict[str, Any]:
        """That client disconnects (offline after the identity's last connection)."""
        data = {"service_sid": service_sid, "identity": identity}
        return dict(self._control("POST", "simulate/disconnect", json=data))


def _settled(
    fetch: Callable[[], list[dict[str, Any]]], count: int, timeout: float, what: str
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        settled = [d for d in fetch() if d["state"] != "pending"]
        if len(settled) >= count:
            return settled
        if time.monotonic() > deadline:
            raise AssertionError(f"expected {count} settled {what}, got {len(settled)}")
        time.sleep(0.02)


@pytest.fixture(scope="session")
def parley_server() -> Iterator[ParleySession]:
    with ParleyServer() as server:
        yield ParleySession(server, server.create_credentials())


@pytest.fixture
def parley(parley_server: ParleySession) -> Iterator[ParleySession]:
    """The session's server; the account's state is reset after the test."""
    yield parley_server
    parley_server.reset()


@pytest.fixture
def parley_client(parley: ParleySession) -> Any:
    return _client(parley)


def _client(session: ParleySession) -> Any:
    try:
        return session.client()
    except ImportError as exc:
        if str(exc) != NEEDS_TWILIO:
            raise
    pytest.fail(NEEDS_TWILIO, pytrace=False)  # outside the except: no chained traceback


@pytest.fixture
def parley_service(parley_client: Any) -> Any:
    return parley_client.chat.v2.services.create(friendly_name="test service")


@pytest.fixture(scope="session")
def parley_session(parley_server: ParleySession) -> ParleySession:
    """The same server, another account: never reset by the function fixtures."""
    server = parley_server.server
    return ParleySession(server, server.create_credentials("session"))


@pytest.fixture(scope="session")
def parley_session_client(parley_session: ParleySession) -> Any:
    return _client(parley_session)


@pytest.fixture(scope="session")
def parley_session_service(parley_session_client: Any) -> Any:
    return parley_session_client.chat.v2.services.create(friendly_name="session service")
