"""Shared helpers for the real-time tests: API keys and access tokens."""

import time
from typing import Any

from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import ChatGrant

from parley import accounts
from tests.conftest import Server


def make_key(server: Server, account_sid: str) -> dict[str, str]:
    assert server.app.store is not None
    key: dict[str, str] = server.run(accounts.create_key(server.app.store, account_sid))
    return key


def token(
    account_sid: str,
    key: dict[str, str],
    identity: str,
    service_sid: str,
    ttl: int = 3600,
    **kwargs: Any,
) -> str:
    """An access token built by the official helper library, as apps build them."""
    built = AccessToken(
        account_sid, key["sid"], key["secret"], identity=identity, ttl=ttl, **kwargs
    )
    built.add_grant(ChatGrant(service_sid=service_sid))
    jwt: str = built.to_jwt()
    return jwt


def now() -> int:
    return int(time.time())
