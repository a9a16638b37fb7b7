"""Fixtures: a real Parley on a free port, driven through the official SDK.

Every response the SDK receives is checked against Twilio's spec by the HTTP
client itself (``SpecCheckingClient``): a test cannot pass with a body of the
wrong shape.
"""

import asyncio
import contextlib
import logging
import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from parley import accounts
from parley.store import open_store
from parley.testing import ParleyServer, free_port
from tests import spec_oracle
from tests.webhooks.receiver import Receiver

__all__ = ["ParleyServer", "free_port"]

# pytester for the plugin tests; the conversation tests share fixtures (events, channel)
pytest_plugins = ["pytester", "tests.api.chat_fixtures"]


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


Server = ParleyServer


def start_server(database_url: str, **overrides: Any) -> ParleyServer:
    return ParleyServer(database_url, **overrides).start()


POSTGRES_URL = os.environ.get("PARLEY_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("PARLEY_TEST_REDIS", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() == "true"
BACKENDS = os.environ.get("PARLEY_TEST_BACKENDS", "sqlite,postgres").split(",")


def unavailable(what: str, reason: str) -> None:
    """Outside CI a missing service skips with its reason; under CI=true it fails."""
    message = f"{what} unreachable: {reason}"
    if IN_CI:
        pytest.fail(message + " (CI=true: PostgreSQL and Redis tests must run)")
    pytest.skip(message)


def _postgres_schema(action: str, schema: str) -> None:
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(POSTGRES_URL, timeout=5)
        try:
            if action == "create":
                await conn.execute(f"CREATE SCHEMA {schema}")
            else:
                await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        finally:
            await conn.close()

    asyncio.run(run())


@contextmanager
def fresh_database(kind: str, folder: Path) -> Iterator[str]:
    """A database URL of an empty database of that engine, removed afterwards.

    PostgreSQL gets a schema of its own (asyncpg passes ``search_path`` from the
    URL to the server), so test runs never see each other's rows.
    """
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'parley.db'}"
        return
    schema = f"parley_test_{secrets.token_hex(6)}"
    try:
        _postgres_schema("create", schema)
    except (TimeoutError, OSError, ImportError) as exc:
        unavailable(f"PostgreSQL at {POSTGRES_URL}", repr(exc))
    try:
        yield f"{POSTGRES_URL}?search_path={schema}"
    finally:
        _postgres_schema("drop", schema)


@pytest.fixture(
    scope="session",
    params=[
        pytest.param(b, marks=[pytest.mark.postgres] if b == "postgres" else []) for b in BACKENDS
    ],
)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Every API test runs once per engine: SQLite and PostgreSQL."""
    with fresh_database(request.param, tmp_path_factory.mktemp(request.param)) as url:
        yield url


@pytest.fixture(scope="session")
def server(database_url: str) -> Iterator[Server]:
    running = start_server(database_url, secret_key="test-secret-key")
    yield running
    running.stop()


@dataclass
class Account:
    sid: str
    auth_token: str


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real HTTP receiver on 127.0.0.1 recording every webhook request."""
    running = Receiver().start()
    yield running
    running.stop()


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
