"""Console sign-ins: sessions and the back-off of failed attempts (docs/console.md).

The owner of the ``console_sessions`` and ``console_sign_in_failures`` tables.
A session is looked up by the SHA-256 of its cookie value, so the database
never holds a usable cookie. Credentials are checked by the REST API's own
``Authenticator`` (Account SID + Auth Token, or API key SID + secret).
"""

import hashlib
import secrets
from dataclasses import dataclass

from parley import accounts, sids, timefmt
from parley.store import Store, repo

SECOND = 1_000_000  # timefmt's unit: microseconds
SESSION_TTL = 12 * 3600 * SECOND  # a session ends 12 hours after sign-in
# failed sign-ins allowed before each further one waits: per client address,
# and per Account or API key SID (one address may serve many people)
FREE_FAILURES = {"ip": 20, "sid": 5}
MAX_WAIT = 300  # seconds: the longest a sign-in is held off
FORGET_AFTER = 3600 * SECOND  # failures older than this no longer count


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    account_sid: str
    credential_sid: str  # the Account SID or API key SID that signed in
    csrf: str
    expires: int


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def open_session(store: Store, account_sid: str, credential_sid: str) -> tuple[str, Session]:
    """A new session: (cookie value, session). Expired sessions are dropped here."""
    token = secrets.token_urlsafe(32)
    now = timefmt.now()
    session = Session(
        _digest(token), account_sid, credential_sid, secrets.token_urlsafe(32), now + SESSION_TTL
    )
    async with store.write() as tx:
        await tx.run("DELETE FROM console_sessions WHERE expires < :now", {"now": now})
        await repo.insert(
            tx,
            "console_sessions",
            {
                "id": session.id,
                "account_sid": account_sid,
                "credential_sid": credential_sid,
                "csrf": session.csrf,
                "date_created": now,
                "expires": session.expires,
            },
        )
    return token, session


async def find(store: Store, token: str | None) -> Session | None:
    """The live session of a cookie value, or None (unknown, expired, or its
    credential deleted since)."""
    if not token or len(token) > 100:
        return None
    async with store.read() as tx:
        row = await repo.get(tx, "console_sessions", {"id": _digest(token)})
        if row is None or row["expires"] <= timefmt.now():
            return None
        credential = row["credential_sid"]
        if sids.looks_like(sids.API_KEY, credential):
            alive = await accounts.api_key(tx, credential) is not None
        else:
            alive = await accounts.account(tx, credential) is not None
        if not alive:
            return None
    return Session(row["id"], row["account_sid"], credential, row["csrf"], int(row["expires"]))


async def close(store: Store, session: Session) -> None:
    async with store.write() as tx:
        await repo.delete(tx, "console_sessions", {"id": session.id})


def _keys(address: str, username: str) -> list[tuple[str, str]]:
    keys = [("ip", f"ip:{address}")]
    if sids.looks_like(sids.ACCOUNT, username) or sids.looks_like(sids.API_KEY, username):
        keys.append(("sid", f"sid:{sids.normalise(username)}"))
    return keys


async def wait_seconds(store: Store, address: str, username: str) -> int:
    """How long this sign-in must wait after earlier failures (0: go ahead)."""
    now = timefmt.now()
    wait = 0
    async with store.read() as tx:
        for _, key in _keys(address, username):
            row = await repo.get(tx, "console_sign_in_failures", {"key": key})
            if row is not None and row["blocked_until"] > now:
                wait = max(wait, -(-(row["blocked_until"] - now) // SECOND))
    return int(wait)


async def failed(store: Store, address: str, username: str) -> None:
    """Count a failure; past the free ones, the next attempt waits 1 s, 2 s,
    4 s, … up to ``MAX_WAIT``."""
    now = timefmt.now()
    async with store.write() as tx:
        # forgotten failures go (the table holds what was refused within the hour)
        await tx.run(
            "DELETE FROM console_sign_in_failures"
            " WHERE date_updated < :old AND blocked_until < :now",
            {"old": now - FORGET_AFTER, "now": now},
        )
        for kind, key in _keys(address, username):
            row = await repo.get(tx, "console_sign_in_failures", {"key": key})
            failures = 1 if row is None else int(row["failures"]) + 1
            over = failures - FREE_FAILURES[kind]
            blocked = now + min(2 ** (over - 1), MAX_WAIT) * SECOND if over > 0 else 0
            values = {"failures": failures, "blocked_until": blocked, "date_updated": now}
            if row is None:
                inserted = await repo.insert_if_absent(
                    tx, "console_sign_in_failures", {"key": key, **values}
                )
                if inserted:
                    continue
            await repo.update(tx, "console_sign_in_failures", {"key": key}, values)


async def succeeded(store: Store, address: str, username: str) -> None:
    """A good sign-in forgets its SID's failures (not its address's: one valid
    account must not reset the count of guesses at others)."""
    async with store.write() as tx:
        for kind, key in _keys(address, username):
            if kind == "sid":
                await repo.delete(tx, "console_sign_in_failures", {"key": key})
