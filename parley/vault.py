"""Encryption at rest for push-credential secrets (docs/behaviour.md §R11).

``PARLEY_SECRET_KEY`` holds one or more comma-separated keys: the first
encrypts, every one decrypts (so a key can be rotated by prepending the new
one). A key is either a Fernet key (``Fernet.generate_key()``) or any other
text, which is stretched into one with SHA-256.

When no key is configured, Parley refuses to store credential secrets (the
credential write fails with a 500 naming the missing setting) rather than
keep them in clear text or under a key that a restart would lose; nothing
else depends on the key.
"""

import base64
import binascii
import hashlib

import orjson
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from parley.errors import TwilioError


class Vault:
    def __init__(self, keys: str | None) -> None:
        parts = [k.strip() for k in (keys or "").split(",") if k.strip()]
        self._fernet = MultiFernet([Fernet(_key(k)) for k in parts]) if parts else None

    @property
    def ready(self) -> bool:
        return self._fernet is not None

    def seal(self, secrets: dict[str, str]) -> str:
        if self._fernet is None:
            raise TwilioError(
                20500,
                message="Credential secrets cannot be stored: "
                "the server has no PARLEY_SECRET_KEY configured",
            )
        return self._fernet.encrypt(orjson.dumps(secrets)).decode()

    def open(self, sealed: str) -> dict[str, str]:
        """The stored secrets; ``LookupError`` when no configured key opens them."""
        if self._fernet is None:
            raise LookupError("no PARLEY_SECRET_KEY configured")
        try:
            data: dict[str, str] = orjson.loads(self._fernet.decrypt(sealed.encode()))
        except InvalidToken:
            raise LookupError("credential secrets sealed with another key") from None
        return data


def _key(text: str) -> bytes:
    try:
        if len(base64.urlsafe_b64decode(text.encode())) == 32:
            return text.encode()
    except (binascii.Error, ValueError):
        pass
    return base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest())
