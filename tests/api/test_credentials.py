"""Credential resource through the official SDK (docs/behaviour.md §R11).

Every secret sent in is remembered in ``SENT``; the last test of the session
scans every response body and log line of the whole run for any of them.
"""

import contextlib
import datetime
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from parley.domain import credentials as domain
from parley.vault import Vault
from tests import conftest
from tests.conftest import Server, make_client, start_server

SENT: list[str] = []


def secret(prefix: str) -> str:
    value = f"{prefix}-{secrets.token_hex(16)}"
    SENT.append(value)
    return value


def apn_pair() -> tuple[str, str]:
    """A self-signed certificate and its unencrypted key, both PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Apple Push Services: test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    SENT.extend([cert_pem, key_pem])
    return cert_pem, key_pem


@pytest.fixture
def made(client: Client) -> Iterator[list[str]]:
    """SIDs of credentials a test created, deleted afterwards (they are account-wide)."""
    sids: list[str] = []
    yield sids
    for sid in sids:
        with contextlib.suppress(TwilioRestException):
            client.chat.v2.credentials(sid).delete()


def test_fcm_crud(server: Server, client: Client, made: list[str]) -> None:
    creds = client.chat.v2.credentials
    cred = creds.create(type="fcm", friendly_name="android", secret=secret("fcm"))
    made.append(cred.sid)
    assert cred.sid.startswith("CR") and cred.type == "fcm"
    assert cred.friendly_name == "android" and cred.sandbox is None
    assert cred.date_updated is None
    assert cred.url == f"{client.chat.base_url}/v2/Credentials/{cred.sid}"
    assert creds(cred.sid).fetch().friendly_name == "android"
    updated = creds(cred.sid).update(friendly_name="renamed", secret=secret("fcm"))
    assert updated.friendly_name == "renamed" and updated.date_updated is not None
    assert cred.sid in [c.sid for c in creds.list()]
    creds(cred.sid).delete()
    with pytest.raises(TwilioRestException) as raised:
        creds(cred.sid).fetch()
    assert raised.value.code == 20404


def test_secrets_are_sealed_and_updatable(server: Server, client: Client, made: list[str]) -> None:
    key = secret("gcm")
    cred = client.chat.v2.credentials.create(type="gcm", api_key=key)
    made.append(cred.sid)
    vault = server.app.api.vault if server.app.api else None
    assert vault is not None and vault.ready
    store = server.app.store
    assert store is not None

    async def stored() -> tuple[dict[str, Any] | None, dict[str, str]]:
        async with store.read() as tx:
            from parley.store import repo

            row = await repo.get(tx, "credentials", {"sid": cred.sid})
            return row, await domain.secrets(tx, vault, cred.sid)

    row, opened = server.run(stored())
    assert row is not None and key not in str(row)  # encrypted at rest
    assert opened == {"api_key": key}
    newer = secret("gcm")
    client.chat.v2.credentials(cred.sid).update(api_key=newer, secret=secret("ignored"))
    assert server.run(stored())[1] == {"api_key": newer}


def test_apn(server: Server, client: Client, made: list[str]) -> None:
    certificate, private_key = apn_pair()
    creds = client.chat.v2.credentials
    cred = creds.create(type="apn", certificate=certificate, private_key=private_key)
    made.append(cred.sid)
    # docs/behaviour.md §C4: lowercase strings, false unless asked
    assert cred.sandbox == "false"
    assert creds(cred.sid).update(sandbox=True).sandbox == "true"
    # one of the pair can be replaced alone; it must still match the other
    other_cert, other_key = apn_pair()
    with pytest.raises(TwilioRestException) as raised:
        creds(cred.sid).update(certificate=other_cert)
    assert raised.value.code == 20001 and "PrivateKey" in raised.value.msg
    assert creds(cred.sid).update(certificate=other_cert, private_key=other_key).sandbox == "true"


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"type": "fcm"}, "Secret"),
        ({"type": "gcm", "secret": "wrong-field"}, "ApiKey"),
        ({"type": "apn"}, "Certificate"),
        ({"type": "apn", "certificate": "not a pem", "private_key": "x"}, "Certificate"),
        ({"type": "sms", "secret": "x"}, "Type"),
        ({"type": "fcm", "secret": "x", "friendly_name": "n" * 65}, None),
    ],
)
def test_create_validates(client: Client, kwargs: dict[str, Any], name: str | None) -> None:
    SENT.extend(
        v for k, v in kwargs.items() if k in ("secret", "certificate", "private_key") and len(v) > 4
    )
    before = [c.sid for c in client.chat.v2.credentials.list()]
    with pytest.raises(TwilioRestException) as raised:
        client.chat.v2.credentials.create(**kwargs)
    assert raised.value.status == 400
    if name is None:
        assert raised.value.code == 50003
    else:
        assert raised.value.code == 20001 and name in raised.value.msg
    assert [c.sid for c in client.chat.v2.credentials.list()] == before


def test_apn_key_must_match_certificate(client: Client) -> None:
    certificate, _ = apn_pair()
    _, other_key = apn_pair()
    with pytest.raises(TwilioRestException) as raised:
        client.chat.v2.credentials.create(
            type="apn", certificate=certificate, private_key=other_key
        )
    assert raised.value.code == 20001 and "PrivateKey" in raised.value.msg


def test_type_is_immutable(client: Client, made: list[str]) -> None:
    cred = client.chat.v2.credentials.create(type="fcm", secret=secret("fcm"))
    made.append(cred.sid)
    # Type is not an update parameter: it is ignored, as unknown names are
    response = client.request(
        "POST", f"{client.chat.base_url}/v2/Credentials/{cred.sid}", data={"Type": "apn"}
    )
    assert response.status_code == 200
    assert client.chat.v2.credentials(cred.sid).fetch().type == "fcm"


def test_scoped_to_the_account(client: Client, other_client: Client, made: list[str]) -> None:
    cred = client.chat.v2.credentials.create(type="fcm", secret=secret("fcm"))
    made.append(cred.sid)
    assert cred.sid not in [c.sid for c in other_client.chat.v2.credentials.list()]
    with pytest.raises(TwilioRestException) as raised:
        other_client.chat.v2.credentials(cred.sid).update(friendly_name="mine")
    assert raised.value.code == 20404
    with pytest.raises(TwilioRestException):
        other_client.chat.v2.credentials(cred.sid).delete()
    assert client.chat.v2.credentials(cred.sid).fetch().friendly_name is None


def _keyless(database_url: str, key_file: str, **settings: Any) -> Any:
    return start_server(database_url, secret_key=None, secret_key_file=key_file, **settings)


def test_without_a_secret_key_a_key_file_is_made_once_and_kept(
    server: Server, tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 13 point 1: no PARLEY_SECRET_KEY still accepts credentials; the
    generated key is a 0600 file, logged once, read again after a restart."""
    from parley import accounts

    key_file = tmp_path / "parley.key"
    caplog.set_level("INFO", logger="parley.vault")
    first = _keyless(server.database_url, str(key_file))
    try:
        assert first.app.store is not None
        account = first.run(accounts.create_account(first.app.store, "no key"))
        client = make_client(first, account["sid"], account["auth_token"])
        cred = client.chat.v2.credentials.create(type="fcm", secret=secret("fcm"))
        assert cred.sid.startswith("CR")
    finally:
        first.stop()
    assert key_file.stat().st_mode & 0o777 == 0o600
    generated = [r for r in caplog.records if "generated" in r.getMessage()]
    assert len(generated) == 1 and str(key_file) in generated[0].getMessage()
    caplog.clear()
    again = _keyless(server.database_url, str(key_file))
    try:
        assert again.app.store is not None and again.app.api is not None
        vault = again.app.api.vault

        async def opened() -> dict[str, str]:
            assert again.app.store is not None
            async with again.app.store.read() as tx:
                return await domain.secrets(tx, vault, cred.sid)

        assert again.run(opened())["secret"] == SENT[-1]
    finally:
        again.stop()
    assert not [r for r in caplog.records if "generated" in r.getMessage()]


def test_the_key_file_sits_beside_the_sqlite_file(tmp_path: Any) -> None:
    from parley import vault

    assert vault.key_file(f"sqlite:///{tmp_path}/data.db", None) == tmp_path / "data.db.key"
    assert vault.key_file("sqlite://", None) is None
    assert str(vault.key_file("postgresql://h/db", None)) == vault.DEFAULT_KEY_FILE
    assert str(vault.key_file("postgresql://h/db", "/etc/p.key")) == "/etc/p.key"
    made = vault.load(None, f"sqlite:///{tmp_path}/data.db")
    assert (tmp_path / "data.db.key").stat().st_mode & 0o777 == 0o600
    sealed = made.seal({"secret": "s"})
    assert vault.load(None, f"sqlite:///{tmp_path}/data.db").open(sealed) == {"secret": "s"}
    # PARLEY_SECRET_KEY overrides the file
    with pytest.raises(LookupError):
        vault.load("another-key", f"sqlite:///{tmp_path}/data.db").open(sealed)


def test_vault_rotation() -> None:
    old = Vault("old-key")
    sealed = old.seal({"secret": "s"})
    assert Vault("new-key,old-key").open(sealed) == {"secret": "s"}
    with pytest.raises(LookupError):
        Vault("new-key").open(sealed)
    assert "secret" not in sealed


def _fragments(value: str) -> list[str]:
    """The value, and each PEM body line (JSON would escape the newlines)."""
    lines = [line for line in value.splitlines() if len(line) >= 16 and "-----" not in line]
    return [value, *lines]


@pytest.mark.last
def test_no_secret_in_any_response_or_log_line() -> None:
    """Runs last: every response body and log line of the session so far."""
    assert SENT, "the credential tests above sent secrets"
    haystacks = conftest.RESPONSES + conftest.LOG_LINES
    assert conftest.RESPONSES
    for value in SENT:
        for fragment in _fragments(value):
            leaks = [h for h in haystacks if fragment in h]
            assert not leaks, f"a secret came back: {leaks[0][:200]}"
