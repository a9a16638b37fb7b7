"""Encryption at rest for push-credential secrets (docs/behaviour.md §R11).

``PARLEY_SECRET_KEY`` holds one or more comma-separated keys: the first
encrypts, every one decrypts (so a key can be rotated by prepending the new
one). A key is either a Fernet key (``Fernet.generate_key()``) or any other
text, which is stretched into one with SHA-256.

Without ``PARLEY_SECRET_KEY`` the keys come from a key file (``load``): the
first start generates one (mode 0600) and later starts read it, so a fresh
install accepts credentials and keeps them readable across restarts, the way
Mattermost generates its at-rest key on first start. The file is
``PARLEY_SECRET_KEY_FILE`` (``--secret-key-file``) when set, else
``<database file>.key`` beside a SQLite database, else ``var/parley.key``
(docs/push.md, "The secret key"). An in-memory database gets a key for the
process's life: its data dies with it. A key file holds the same
comma-separated list as the variable, so rotation works the same way.
"""

import base64
import binascii
import hashlib
import logging
import os
from pathlib import Path

import orjson
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

log = logging.getLogger("parley.vault")

DEFAULT_KEY_FILE = "var/parley.key"


class Vault:
    def __init__(self, keys: str | None) -> None:
        parts = [k.strip() for k in (keys or "").split(",") if k.strip()]
        # no key at all still seals: under a key of this process's life (a
        # Vault built without settings, as in unit tests); ``load`` never does that
        self._fernet = MultiFernet(
            [Fernet(_key(k)) for k in parts or [Fernet.generate_key().decode()]]
        )
        self.ready = bool(parts)

    def seal(self, secrets: dict[str, str]) -> str:
        return self._fernet.encrypt(orjson.dumps(secrets)).decode()

    def open(self, sealed: str) -> dict[str, str]:
        """The stored secrets; ``LookupError`` when no configured key opens them."""
        try:
            data: dict[str, str] = orjson.loads(self._fernet.decrypt(sealed.encode()))
        except InvalidToken:
            raise LookupError("credential secrets sealed with another key") from None
        return data


def key_file(database_url: str, configured: str | None) -> Path | None:
    """Where the generated key lives; ``None`` for an in-memory database."""
    if configured:
        return Path(configured)
    if database_url.startswith("sqlite:///"):
        path = database_url.removeprefix("sqlite:///").split("?", 1)[0]
        if path and path != ":memory:":
            return Path(path + ".key")
    if database_url.startswith("sqlite:"):
        return None
    return Path(DEFAULT_KEY_FILE)


def load(secret_key: str | None, database_url: str, secret_key_file: str | None = None) -> Vault:
    """The server's vault: ``secret_key`` when given, else the key file
    (created on first use, 0600, logged once where it is)."""
    if secret_key and secret_key.strip(","):
        return Vault(secret_key)
    path = key_file(database_url, secret_key_file)
    if path is None:
        log.info("no PARLEY_SECRET_KEY: credential secrets sealed with a key of this run only")
        return Vault(Fernet.generate_key().decode())
    return Vault(_read_or_create(path))


def _read_or_create(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        # written aside, then linked into place: of two processes starting
        # together one link wins and both read a complete file
        key = Fernet.generate_key().decode()
        aside = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(key + "\n")
        try:
            os.link(aside, path)
        except FileExistsError:
            pass
        else:
            log.warning(
                "generated the key that seals credential secrets: %s (mode 0600); keep it"
                " with the data, or set PARLEY_SECRET_KEY / PARLEY_SECRET_KEY_FILE",
                path,
            )
            return key
        finally:
            aside.unlink(missing_ok=True)
    text = path.read_text("utf-8").strip()
    if not text.strip(","):
        raise RuntimeError(f"the secret key file {path} is empty")
    log.info("credential secrets are sealed with the key in %s", path)
    return text


def _key(text: str) -> bytes:
    try:
        if len(base64.urlsafe_b64decode(text.encode())) == 32:
            return text.encode()
    except (binascii.Error, ValueError):
        pass
    return base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest())
