"""Accounts and API keys: the credentials behind HTTP Basic auth (docs/behaviour.md §C2).

An API key authenticates as the account that owns it. Verified credentials are
cached briefly so that auth costs one dict lookup on the hot path.
"""

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


class Authenticator:
    """Resolves Basic credentials to an account SID."""

    TTL = 5.0  # seconds a verified credential is trusted without a lookup

    def __init__(self, store: Store) -> None:
        self.store = store
        self._cache: dict[tuple[str, str], tuple[str, float]] = {}

    async def account_for(self, username: str, password: str) -> str | None:
        key = (username, password)
        hit = self._cache.get(key)
        now = time.monotonic()
        if hit is not None and hit[1] > now:
            return hit[0]
        account = await self._verify(username, password)
        if account is not None:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key] = (account, now + self.TTL)
        return account

    async def _verify(self, username: str, password: str) -> str | None:
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
