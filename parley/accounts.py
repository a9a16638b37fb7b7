"""Accounts and API keys: the credentials behind HTTP Basic auth (docs/behaviour.md §C2).

An API key authenticates as the account that owns it. A verified header is
trusted for a few seconds, so that auth costs one dict lookup on the hot path
(docs/decisions.md §44).
"""

import base64
import binascii
import hmac
import secrets
import time
from typing import TypedDict, cast

from parley import sids, timefmt
from parley.sids import AccountSid, KeySid
from parley.store import Row, Store, Tx, UniqueViolation, repo


class Account(TypedDict):
    """A row of ``accounts``, a table this module owns: other modules read it
    through ``account``."""

    sid: AccountSid
    auth_token: str
    friendly_name: str | None
    date_created: int


class ApiKey(TypedDict):
    """A row of ``api_keys``, a table this module owns: other modules read it
    through ``api_key``."""

    sid: KeySid
    account_sid: AccountSid
    secret: str
    friendly_name: str | None
    date_created: int


async def account(tx: Tx, account_sid: str) -> Account | None:
    row = await repo.get(tx, "accounts", {"sid": account_sid})
    return cast(Account, row) if row is not None else None


async def api_key(tx: Tx, key_sid: str) -> ApiKey | None:
    row = await repo.get(tx, "api_keys", {"sid": key_sid})
    return cast(ApiKey, row) if row is not None else None


async def create_account(
    store: Store,
    friendly_name: str | None = None,
    sid: str | None = None,
    auth_token: str | None = None,
) -> dict[str, str]:
    """Create an account (or make sure the given one exists with that token)."""
    sid = sid or sids.new_sid(sids.ACCOUNT)
    auth_token = auth_token or secrets.token_hex(16)
    row: Row = {
        "sid": sid,
        "auth_token": auth_token,
        "friendly_name": friendly_name,
        "date_created": timefmt.now(),
    }
    for _ in range(2):  # several processes may ensure the same account at once
        try:
            async with store.write() as tx:
                existing = await account(tx, sid)
                if existing is None:
                    await repo.insert(tx, "accounts", row)
                elif existing["auth_token"] != auth_token:
                    await repo.update(tx, "accounts", {"sid": sid}, {"auth_token": auth_token})
            break
        except UniqueViolation:
            continue
    return {"sid": sid, "auth_token": auth_token}


async def create_key(
    store: Store, account_sid: str, friendly_name: str | None = None
) -> dict[str, str]:
    sid = sids.new_sid(sids.API_KEY)
    secret = secrets.token_urlsafe(24)
    async with store.write() as tx:
        if await account(tx, account_sid) is None:
            raise LookupError(f"no account {account_sid}")
        await repo.insert(
            tx,
            "api_keys",
            {
                "sid": sid,
                "account_sid": account_sid,
                "secret": secret,
                "friendly_name": friendly_name,
                "date_created": timefmt.now(),
            },
        )
    return {"sid": sid, "secret": secret}


async def find_dev_account(store: Store) -> dict[str, str] | None:
    async with store.read() as tx:
        rows = await tx.all(
            "SELECT sid, auth_token FROM accounts WHERE friendly_name = :n ORDER BY date_created",
            {"n": "development"},
        )
    return {"sid": rows[0]["sid"], "auth_token": rows[0]["auth_token"]} if rows else None


HEADER_KEPT = 256  # bytes; "Basic " and base64 of a SID, ":" and a secret take ~100


class Authenticator:
    """Resolves Basic credentials to an account SID."""

    TTL = 5.0  # seconds a verified header is trusted without a lookup (docs/decisions.md §44)

    def __init__(self, store: Store) -> None:
        self.store = store
        self._cache: dict[bytes, tuple[str, float]] = {}

    async def account_of(self, header: bytes | None) -> str | None:
        """The account of an ``Authorization: Basic`` header, or None.

        A verified header is trusted for ``TTL`` seconds, keyed by its bytes:
        a request with the same header costs one dict lookup, no decoding."""
        if not header:
            return None
        hit = self._cache.get(header)
        now = time.monotonic()
        if hit is not None and hit[1] > now:
            return hit[0]
        credentials = basic(header)
        if credentials is None:
            return None
        account = await self.account_for(*credentials)
        # a header padded with whitespace still verifies: only headers of a
        # credential's size are kept, so a tenant cannot grow the cache's memory
        if account is not None and len(header) <= HEADER_KEPT:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[header] = (account, now + self.TTL)
        return account

    async def account_for(self, username: str, password: str) -> str | None:
        """The account these credentials (an account's SID and auth token, or
        an API key's SID and secret) authenticate as, looked up now."""
        async with self.store.read() as tx:
            if sids.looks_like(sids.ACCOUNT, username):
                found = await account(tx, sids.normalise(username))
                if found and hmac.compare_digest(found["auth_token"], password):
                    return str(found["sid"])
            elif sids.looks_like(sids.API_KEY, username):
                key = await api_key(tx, sids.normalise(username))
                if key and hmac.compare_digest(key["secret"], password):
                    return str(key["account_sid"])
        return None

    def forget(self) -> None:
        self._cache.clear()


def basic(header: bytes) -> tuple[str, str] | None:
    """``(username, password)`` of an ``Authorization: Basic`` header, both
    non-empty, or None."""
    if header[:6].lower() != b"basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, _, password = decoded.partition(":")
    return (username, password) if username and password else None
