"""Fixtures: a real Parley on a free port, driven through the official SDK.

Every response the SDK receives is checked against Twilio's spec by the HTTP
client itself (``SpecCheckingClient``): a test cannot pass with a body of the
wrong shape.
"""

import asyncio
import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from parley import accounts
from parley.app import Parley, build_app
from parley.config import Settings
from parley.server import ParleyServer
from parley.store import open_store
from tests import spec_oracle

# shared fixtures of the conversation tests (events, channel)
pytest_plugins = ("tests.api.chat_fixtures",)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Every response body any test received, and every log line the process
# wrote, for suite-wide checks (e.g. no credential secret ever comes back).
RESPONSES: list[str] = []
LOG_LINES: list[str] = []


class _LogRecorder(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        LOG_LINES.append(logging.Formatter().format(record))


logging.getLogger().addHandler(_LogRecorder(logging.DEBUG))
logging.getLogger("parley").setLevel(logging.DEBUG)  # record everything Parley says


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "last: run after every other test of the session")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("last") is not None)


class SpecCheckingClient(TwilioHttpClient):
    """The SDK's own HTTP client, plus a spec check of every response."""

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        response = super().request(method, url, *args, **kwargs)
        RESPONSES.append(response.text)
        spec_oracle.check(method, urlsplit(url).path, response.status_code, response.text)
        return response


@dataclass
class Server:
    url: str
    app: Parley
    database_url: str
    thread: threading.Thread
    server: uvicorn.Server
    loop: asyncio.AbstractEventLoop | None = None

    def run(self, coro: Any) -> Any:
        """Run a coroutine on the server's own loop (for direct store access)."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def start_server(database_url: str, **overrides: Any) -> Server:
    port = int(overrides.pop("port", 0)) or free_port()
    settings = Settings()
    settings.host, settings.port, settings.database_url = "127.0.0.1", port, database_url
    settings.public_url = None
    for key, value in overrides.items():
        setattr(settings, key, value)
    app = build_app(settings)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = ParleyServer(config, app)
    holder: dict[str, Any] = {}

    def serve() -> None:
        loop = asyncio.new_event_loop()
        holder["loop"] = loop
        loop.run_until_complete(server.serve())
        loop.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("Parley did not start")
        time.sleep(0.01)
    return Server(f"http://127.0.0.1:{port}", app, database_url, thread, server, holder["loop"])


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    path: Path = tmp_path_factory.mktemp("db") / "parley.db"
    running = start_server(
        os.environ.get("PARLEY_TEST_DATABASE_URL", f"sqlite:///{path}"),
        secret_key="test-secret-key",
    )
    yield running
    running.stop()


@dataclass
class Account:
    sid: str
    auth_token: str


@pytest.fixture(scope="session")
def account(server: Server) -> Account:
    assert server.app.store is not None
    created = server.run(accounts.create_account(server.app.store, "tests"))
    return Account(created["sid"], created["auth_token"])


def make_client(
    server: Server, username: str, password: str, account_sid: str | None = None
) -> Client:
    client = Client(username, password, account_sid, http_client=SpecCheckingClient())
    client.chat.base_url = server.url
    return client


@pytest.fixture(scope="session")
def client(server: Server, account: Account) -> Client:
    return make_client(server, account.sid, account.auth_token)


@pytest.fixture
def other_client(server: Server) -> Client:
    """A second account: it must never see the first one's resources."""
    assert server.app.store is not None
    created = server.run(accounts.create_account(server.app.store, "other"))
    return make_client(server, created["sid"], created["auth_token"])


@pytest.fixture
def service(client: Client) -> Iterator[Any]:
    """A fresh service, deleted afterwards."""
    created = client.chat.v2.services.create(friendly_name="test service")
    yield created
    with contextlib.suppress(Exception):
        client.chat.v2.services(created.sid).delete()


@pytest.fixture
def make_service(client: Client) -> Iterator[Callable[..., Any]]:
    made: list[str] = []

    def make(name: str = "svc") -> Any:
        created = client.chat.v2.services.create(friendly_name=name)
        made.append(created.sid)
        return created

    yield make
    for sid in made:
        with contextlib.suppress(Exception):
            client.chat.v2.services(sid).delete()


def open_test_store(url: str) -> Any:
    return asyncio.run(open_store(url))
