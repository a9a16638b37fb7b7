"""Access-token validation (docs/behaviour.md §P4.2) with tokens built by twilio-python."""

import base64
import subprocess
import sys
from typing import Any

import jwt
import orjson
import pytest

from parley.errors import TwilioError
from parley.realtime import tokens
from tests.conftest import Account, Server
from tests.realtime.helpers import make_key, now, token


def validate(server: Server, text: str) -> tokens.Grant:
    assert server.app.store is not None
    store = server.app.store

    async def run() -> tokens.Grant:
        async with store.read() as tx:
            return await tokens.validate(tx, text)

    grant: tokens.Grant = server.run(run())
    return grant


def refused(server: Server, text: str) -> int:
    with pytest.raises(TwilioError) as caught:
        validate(server, text)
    assert caught.value.status == 401
    return caught.value.code


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(data)).rstrip(b"=").decode()


def test_a_helper_library_token_is_accepted(server: Server, account: Account, service: Any) -> None:
    key = make_key(server, account.sid)
    grant = validate(server, token(account.sid, key, "alice", service.sid))
    assert (grant.account_sid, grant.key_sid) == (account.sid, key["sid"])
    assert (grant.identity, grant.service_sid) == ("alice", service.sid)
    assert grant.expires > now()


def test_parley_built_tokens_are_accepted(server: Server, account: Account, service: Any) -> None:
    key = make_key(server, account.sid)
    text = tokens.build(account.sid, key["sid"], key["secret"], "bob", service.sid, ttl=60)
    assert jwt.get_unverified_header(text)["cty"] == "twilio-fpa;v=1"
    assert validate(server, text).identity == "bob"


def test_bad_signature(server: Server, account: Account, service: Any) -> None:
    key = make_key(server, account.sid)
    forged = token(
        account.sid, {"sid": key["sid"], "secret": "not-the-secret-" + "x" * 32}, "a", service.sid
    )
    assert refused(server, forged) == 20107


def test_alg_none_is_refused(server: Server, account: Account, service: Any) -> None:
    key = make_key(server, account.sid)
    good = token(account.sid, key, "alice", service.sid)
    _, claims, _ = good.split(".")
    assert refused(server, f"{b64({'alg': 'none', 'typ': 'JWT'})}.{claims}.") == 20102
    assert refused(server, f"{b64({'alg': 'HS512', 'typ': 'JWT'})}.{claims}.xx") == 20102


def test_expired(server: Server, account: Account, service: Any) -> None:
    key = make_key(server, account.sid)
    old = token(account.sid, key, "alice", service.sid, ttl=60, nbf=now() - 3600)
    # twilio-python computes exp from the current time; rebuild with an old exp
    claims = jwt.decode(old, options={"verify_signature": False})
    claims["exp"] = now() - 10
    assert refused(server, jwt.encode(claims, key["secret"], algorithm="HS256")) == 20104


def test_not_yet_valid(server: Server, account: Account, service: Any) -> None:
    key = make_key(server, account.sid)
    later = token(account.sid, key, "alice", service.sid, ttl=60, nbf=now() + 600)
    assert refused(server, later) == 20105


def test_longer_than_24_hours(server: Server, account: Account, service: Any) -> None:
    key = make_key(server, account.sid)
    assert refused(server, token(account.sid, key, "alice", service.sid, ttl=86_400 + 60)) == 20104
    assert validate(server, token(account.sid, key, "alice", service.sid, ttl=86_400))


def test_foreign_account(server: Server, account: Account, service: Any, other_client: Any) -> None:
    other_sid = other_client.username
    other_key = make_key(server, other_sid)
    # a key of another account, claiming this account
    assert refused(server, token(account.sid, other_key, "alice", service.sid)) == 20103
    # the other account's own key, naming this account's service
    assert refused(server, token(other_sid, other_key, "alice", service.sid)) == 20106
    # an unknown key
    unknown = {"sid": "SK" + "0" * 32, "secret": "y" * 40}
    assert refused(server, token(account.sid, unknown, "alice", service.sid)) == 20103


def test_grants_are_required(server: Server, account: Account, service: Any) -> None:
    key = make_key(server, account.sid)
    assert refused(server, token(account.sid, key, "", service.sid)) == 20106
    assert refused(server, token(account.sid, key, "alice", "IS" + "0" * 32)) == 20106
    claims = jwt.decode(
        token(account.sid, key, "alice", service.sid), options={"verify_signature": False}
    )
    del claims["grants"]["chat"]
    assert refused(server, jwt.encode(claims, key["secret"], algorithm="HS256")) == 20106


def test_garbage(server: Server) -> None:
    assert refused(server, "not a token") == 20101
    assert refused(server, "a.b.c") == 20102


def test_cli_prints_a_valid_token(server: Server, account: Account, service: Any) -> None:
    key = make_key(server, account.sid)
    args = ["tokens", "create", "--identity", "carol", "--service", service.sid]
    args += ["--account-sid", account.sid, "--key-sid", key["sid"], "--key-secret", key["secret"]]
    args += ["--ttl", "120", "--database-url", server.database_url]
    out = subprocess.run(
        [sys.executable, "-m", "parley", *args], capture_output=True, text=True, check=True
    ).stdout.strip()
    grant = validate(server, out)
    assert grant.identity == "carol"
    assert grant.expires - now() <= 120


def _signed(key: dict[str, str], claims: dict[str, Any]) -> str:
    return jwt.encode(claims, key["secret"], algorithm="HS256", headers={"cty": tokens.CTY})


def _claims(account: Account, key: dict[str, str], service: Any, **times: int) -> dict[str, Any]:
    return {
        "jti": f"{key['sid']}-1",
        "grants": {"identity": "alice", "chat": {"service_sid": service.sid}},
        "iss": key["sid"],
        "sub": account.sid,
        **times,
    }


def test_a_future_iat_neither_starts_nor_stretches_a_lifetime(
    server: Server, account: Account, service: Any
) -> None:
    """Issue 18: iat five years ahead and no nbf was valid for five years. The
    lifetime runs from the earliest of now, iat and nbf; an iat beyond the clock
    skew is not yet valid (docs/security.md, "Access tokens")."""
    key = make_key(server, account.sid)
    years = 5 * 365 * 86_400
    ahead = _claims(account, key, service, iat=now() + years - 3600, exp=now() + years)
    assert refused(server, _signed(key, ahead)) == 20105
    # within the skew: accepted, but the lifetime still counts from now
    skewed = _claims(account, key, service, iat=now() + 30, exp=now() + 3600)
    assert validate(server, _signed(key, skewed)).identity == "alice"
    stretched = _claims(account, key, service, iat=now() + 30, exp=now() + 30 + 86_400)
    assert refused(server, _signed(key, stretched)) == 20104
    # an old iat counts too: issued 2 h ago, valid for 23 h more is 25 h in all
    old = _claims(account, key, service, iat=now() - 7200, exp=now() + 23 * 3600)
    assert refused(server, _signed(key, old)) == 20104
    fine = _claims(account, key, service, iat=now() - 7200, nbf=now() - 7200, exp=now() + 3600)
    assert validate(server, _signed(key, fine))


@pytest.mark.parametrize("garbage", ["=", "==", "!", "A", "AA", "\n", " ", "%3D", "."])
def test_a_signature_has_one_spelling(
    server: Server, account: Account, service: Any, garbage: str
) -> None:
    """Issue 18: a signature with trailing characters a lenient decoder drops
    was accepted."""
    key = make_key(server, account.sid)
    good = token(account.sid, key, "alice", service.sid)
    assert validate(server, good)
    assert refused(server, good + garbage) in (20101, 20107)


def test_a_signature_with_stray_low_bits_is_refused(
    server: Server, account: Account, service: Any
) -> None:
    key = make_key(server, account.sid)
    head, claims, sig = token(account.sid, key, "alice", service.sid).split(".")
    # 32 bytes are 43 characters: the last one carries 2 unused bits; flipping
    # them decodes to the same bytes but is not the signature's spelling
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(sig[-1])
    twin = sig[:-1] + alphabet[last ^ 1]
    assert base64.urlsafe_b64decode(twin + "=") == base64.urlsafe_b64decode(sig + "=")
    assert refused(server, f"{head}.{claims}.{twin}") == 20107
