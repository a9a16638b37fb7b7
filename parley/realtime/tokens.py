"""Access tokens: the JWTs ``twilio.jwt.access_token.AccessToken`` builds with an
API key and a ``ChatGrant`` (docs/behaviour.md §P4).

Validation follows docs/behaviour.md §P4.2 step by step; each failure has its
Twilio 201xx code (the titles are reconstructed there, see errors.py)::

    three canonical base64url segments              20101
    header: alg HS256 only                          20102
    iss = API key SID of the account in sub         20103
    HMAC-SHA256 signature with that key's secret,
      its one canonical spelling                    20107
    exp in the future, lifetime <= 24 h counted
      from the earliest of now, iat and nbf         20104
    nbf and iat not in the future (60 s skew)       20105
    grants.identity, grants.chat.service_sid        20106
    anything unreadable                             20101

docs/security.md "Access tokens" says why iat and the signature's spelling count.
"""

import base64
import binascii
import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from typing import Any

import orjson

from parley import accounts, sids
from parley.domain import services, users
from parley.errors import TwilioError
from parley.store import Tx

MAX_TTL = 24 * 3600  # Twilio's maximum token lifetime (docs/behaviour.md §P4.2)
SKEW = 60  # seconds of clock skew tolerated for nbf [inferred: "a small clock skew"]
CTY = "twilio-fpa;v=1"
_SEGMENT = re.compile(r"[A-Za-z0-9_-]*")  # base64url without padding (RFC 7515 §2)


@dataclass(frozen=True, slots=True)
class Grant:
    """What a valid token allows: one identity in one service of one account."""

    account_sid: str
    key_sid: str
    identity: str
    service_sid: str
    expires: int  # unix seconds
    endpoint_id: str | None = None
    deployment_role_sid: str | None = None
    push_credential_sid: str | None = None


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _json(part: str, code: int) -> dict[str, Any]:
    try:
        value = orjson.loads(_b64(part))
    except (binascii.Error, ValueError):
        raise TwilioError(code) from None
    if not isinstance(value, dict):
        raise TwilioError(code)
    return value


def _seconds(claims: dict[str, Any], name: str) -> int | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TwilioError(20104 if name == "exp" else 20105)
    return int(value)


async def validate(tx: Tx, token: str, now: float | None = None) -> Grant:
    """The grant of a valid token, else ``TwilioError`` with its 201xx code."""
    if not isinstance(token, str) or token.count(".") != 2:
        raise TwilioError(20101)
    head_b64, claims_b64, sig_b64 = token.split(".")
    if not all(_SEGMENT.fullmatch(part) for part in (head_b64, claims_b64, sig_b64)):
        raise TwilioError(20101)
    header = _json(head_b64, 20102)
    if header.get("alg") != "HS256" or header.get("typ", "JWT") != "JWT":
        raise TwilioError(20102)
    claims = _json(claims_b64, 20101)

    issuer, subject = claims.get("iss"), claims.get("sub")
    if not isinstance(issuer, str) or not isinstance(subject, str):
        raise TwilioError(20103)
    key = (
        await accounts.api_key(tx, sids.normalise(issuer))
        if sids.looks_like(sids.API_KEY, issuer)
        else None
    )
    if key is None or key["account_sid"] != subject:
        raise TwilioError(20103)
    signed = f"{head_b64}.{claims_b64}".encode()
    expected = hmac.new(key["secret"].encode(), signed, hashlib.sha256).digest()
    # compared as text: a signature has one spelling, so trailing characters,
    # padding or stray bits that a lenient decoder drops are a different one
    canonical = base64.urlsafe_b64encode(expected).rstrip(b"=")
    if not hmac.compare_digest(sig_b64.encode(), canonical):
        raise TwilioError(20107)

    now = time.time() if now is None else now
    exp = _seconds(claims, "exp")
    nbf = _seconds(claims, "nbf")
    iat = _seconds(claims, "iat")
    if exp is None or exp <= now:
        raise TwilioError(20104)
    if any(t is not None and t > now + SKEW for t in (nbf, iat)):
        raise TwilioError(20105)
    # the earliest moment the token claims or could be used from: a future iat
    # must not stretch a lifetime that runs from now
    start = min(t for t in (now, nbf, iat) if t is not None)
    if exp - start > MAX_TTL:
        raise TwilioError(20104)

    grants = claims.get("grants")
    chat = grants.get("chat") if isinstance(grants, dict) else None
    identity = grants.get("identity") if isinstance(grants, dict) else None
    if not isinstance(chat, dict) or not isinstance(identity, str) or not identity:
        raise TwilioError(20106)
    service_sid = chat.get("service_sid")
    if not isinstance(service_sid, str) or not sids.looks_like(sids.SERVICE, service_sid):
        raise TwilioError(20106)
    service = await services.by_sid(tx, sids.normalise(service_sid))
    if service is None or service["account_sid"] != subject:
        raise TwilioError(20106)
    try:
        users.check_identity(identity)
    except TwilioError:
        raise TwilioError(20106) from None
    return Grant(
        account_sid=subject,
        key_sid=key["sid"],
        identity=identity,
        service_sid=service["sid"],
        expires=exp,
        endpoint_id=_opt(chat, "endpoint_id"),
        deployment_role_sid=_opt(chat, "deployment_role_sid"),
        push_credential_sid=_opt(chat, "push_credential_sid"),
    )


def _opt(grant: dict[str, Any], name: str) -> str | None:
    value = grant.get(name)
    return value if isinstance(value, str) and value else None


def build(
    account_sid: str,
    key_sid: str,
    secret: str,
    identity: str,
    service_sid: str,
    ttl: int = 3600,
    now: int | None = None,
) -> str:
    """A token shaped exactly as twilio-python's ``AccessToken`` + ``ChatGrant``
    build it (docs/behaviour.md §P4.1), for ``parley tokens create``."""
    import jwt

    issued = int(time.time()) if now is None else now
    claims = {
        "jti": f"{key_sid}-{issued}",
        "grants": {"identity": identity, "chat": {"service_sid": service_sid}},
        "iss": key_sid,
        "exp": issued + ttl,
        "nbf": issued,
        "sub": account_sid,
    }
    return jwt.encode(claims, secret, algorithm="HS256", headers={"cty": CTY})
