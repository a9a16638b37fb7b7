"""Push credentials: account-level, shared by every service (docs/behaviour.md §R11,
docs/behaviour.md §P2).

The secrets (``Certificate``/``PrivateKey`` for apn, ``ApiKey`` for gcm,
``Secret`` for fcm) are write-only: sealed by the ``Vault`` into the
``secrets`` column and never part of a row handed back to a caller, an event
or an error message.
"""

from typing import Any, TypedDict, cast

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from parley import sids, timefmt
from parley.errors import invalid, missing
from parley.sids import AccountSid, CredentialSid
from parley.store import Row, Tx, repo
from parley.vault import Vault

TABLE = "credentials"
"""For the generic REST lookups and pager (``api/scope.py``, ``Call.listing``)."""


class Credential(TypedDict):
    """A row of ``credentials``, the table this module owns: other modules
    read it through the queries below."""

    seq: int
    sid: CredentialSid
    account_sid: AccountSid
    friendly_name: str | None
    type: str  # one of TYPES
    sandbox: str | None  # "true" / "false", apn only
    secrets: str | None  # sealed by the Vault
    date_created: int
    date_updated: int | None


# what the write functions take: a typed row, or one read by the generic
# repository (the REST layer's scope lookups)
CredentialRow = Credential | Row


def _credential(row: Row | None) -> Credential | None:
    return cast(Credential, row) if row is not None else None


async def by_sid(tx: Tx, credential_sid: str, account_sid: str | None = None) -> Credential | None:
    """The credential with this SID (of this account, when one is given)."""
    where = {"sid": credential_sid}
    if account_sid is not None:
        where["account_sid"] = account_sid
    return _credential(await repo.get(tx, TABLE, where))


async def by_name(tx: Tx, account_sid: str, friendly_name: str) -> Credential | None:
    """The account's (first) credential of this friendly name (seeds name them)."""
    where = {"account_sid": account_sid, "friendly_name": friendly_name}
    return _credential(await repo.get(tx, TABLE, where))


# type -> (python name, Twilio name) of its secrets, all required on create
SECRETS: dict[str, tuple[tuple[str, str], ...]] = {
    "apn": (("certificate", "Certificate"), ("private_key", "PrivateKey")),
    "gcm": (("api_key", "ApiKey"),),
    "fcm": (("secret", "Secret"),),
}
TYPES = tuple(SECRETS)
_ALL_SECRETS = {name for pairs in SECRETS.values() for name, _ in pairs}


def public(row: Row) -> Row:
    """The row without its sealed secrets: what responses render."""
    return {k: v for k, v in row.items() if k != "secrets"}


def _sandbox(value: bool | None) -> str:
    # docs/behaviour.md §C4 / docs/decisions.md §10: lowercase strings, apn only
    return "true" if value else "false"


def _check_apn(secrets: dict[str, str]) -> None:
    """Certificate and PrivateKey must be PEM and belong together (an APNs
    certificate with its unencrypted key, as Twilio's console asks for)."""
    try:
        certificate = x509.load_pem_x509_certificate(secrets["certificate"].encode())
    except ValueError:
        raise invalid("Certificate") from None
    try:
        key = serialization.load_pem_private_key(secrets["private_key"].encode(), password=None)
    except (ValueError, TypeError):
        raise invalid("PrivateKey") from None
    fmt = serialization.PublicFormat.SubjectPublicKeyInfo
    enc = serialization.Encoding.DER
    if certificate.public_key().public_bytes(enc, fmt) != key.public_key().public_bytes(enc, fmt):
        raise invalid("PrivateKey")


def _secrets(kind: str, given: dict[str, Any], stored: dict[str, str]) -> dict[str, str]:
    """The type's secrets after a write: given values over stored ones; every
    one must be present. Secrets of other types are ignored (docs/behaviour.md §R11)."""
    merged: dict[str, str] = {}
    for name, wire in SECRETS[kind]:
        value = given.get(name, stored.get(name))
        if not value:
            raise missing(wire)
        merged[name] = value
    if kind == "apn":
        _check_apn(merged)
    return merged


async def create(tx: Tx, vault: Vault, account_sid: str, values: dict[str, Any]) -> Row:
    kind = values["type"]
    sealed = vault.seal(_secrets(kind, values, {}))
    row: Row = {
        "sid": sids.new_sid(sids.CREDENTIAL),
        "account_sid": account_sid,
        "friendly_name": values.get("friendly_name"),
        "type": kind,
        "sandbox": _sandbox(values.get("sandbox")) if kind == "apn" else None,
        "secrets": sealed,
        "date_created": timefmt.now(),
        "date_updated": None,
    }
    await repo.insert(tx, TABLE, row)
    return public(row)


async def update(tx: Tx, vault: Vault, credential: CredentialRow, values: dict[str, Any]) -> Row:
    """Partial update; ``Type`` is immutable. Changing one apn secret keeps the
    other (they are checked as a pair)."""
    kind = credential["type"]
    changes: Row = {"date_updated": timefmt.now()}
    if "friendly_name" in values:
        changes["friendly_name"] = values["friendly_name"]
    if kind == "apn" and "sandbox" in values:
        changes["sandbox"] = _sandbox(values["sandbox"])
    given = {k: v for k, v in values.items() if k in {name for name, _ in SECRETS[kind]}}
    if given:
        try:
            stored = vault.open(credential["secrets"]) if credential["secrets"] else {}
        except LookupError:
            stored = {}  # sealed under a key no longer configured: all must be resent
        changes["secrets"] = vault.seal(_secrets(kind, given, stored))
    await repo.update(tx, TABLE, {"sid": credential["sid"]}, changes)
    return public({**credential, **changes})


async def delete(tx: Tx, credential: CredentialRow) -> None:
    """Bindings keep their ``credential_sid`` (Twilio shows no cascade);
    the push sender treats a missing credential as unusable."""
    await repo.delete(tx, TABLE, {"sid": credential["sid"]})


async def secrets(tx: Tx, vault: Vault, sid: str) -> dict[str, str]:
    """The opened secrets of a credential, for the push sender only."""
    row = await by_sid(tx, sid)
    if row is None or not row["secrets"]:
        raise LookupError(sid)
    return {k: v for k, v in vault.open(row["secrets"]).items() if k in _ALL_SECRETS}
