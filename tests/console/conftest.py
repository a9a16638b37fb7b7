"""A Parley for the console tests, an account on it, and a signed-in HTTP client."""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from twilio.rest import Client

from parley import accounts
from parley.testing import ParleyServer
from tests.conftest import make_client

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def console_server(server: ParleyServer) -> ParleyServer:
    """The suite's server, once per engine (SQLite and PostgreSQL); the browser
    tests use one of their own (test_console_browser.py)."""
    return server


@pytest.fixture(scope="module")
def sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ParleyServer]:
    folder: Path = tmp_path_factory.mktemp("console")
    running = ParleyServer(f"sqlite:///{folder / 'parley.db'}", secret_key="console-test-key")
    running.start()
    yield running
    running.stop()


@dataclass
class Login:
    sid: str
    token: str


def new_account(server: ParleyServer, name: str = "console") -> Login:
    assert server.app.store is not None
    created = server.run(accounts.create_account(server.app.store, name))
    return Login(created["sid"], created["auth_token"])


@pytest.fixture
def login(console_server: ParleyServer) -> Login:
    return new_account(console_server)


@pytest.fixture
def rest(console_server: ParleyServer, login: Login) -> Client:
    """twilio-python on the same account: what the console wrote, read back."""
    return make_client(console_server, login.sid, login.token)


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has a form with a CSRF token"
    return found.group(1)


def sign_in(http: httpx.Client, username: str, password: str) -> httpx.Response:
    page = http.get("/console/sign-in")
    return http.post(
        "/console/sign-in",
        data={"csrf_token": csrf_of(page.text), "AccountSid": username, "AuthToken": password},
    )


@pytest.fixture
def http(console_server: ParleyServer, login: Login) -> Iterator[httpx.Client]:
    """A signed-in client: its cookie jar holds the session."""
    with httpx.Client(base_url=console_server.url, timeout=30) as client:
        response = sign_in(client, login.sid, login.token)
        assert response.status_code == 303, response.text
        yield client
