"""Settings from the environment (``PARLEY_*``), overridden by CLI flags."""

import os
from dataclasses import dataclass, field


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(f"PARLEY_{name}", default)


@dataclass(slots=True)
class Settings:
    host: str = field(default_factory=lambda: _env("HOST", "127.0.0.1") or "127.0.0.1")
    port: int = field(default_factory=lambda: int(_env("PORT", "8080") or 8080))
    database_url: str = field(
        default_factory=lambda: _env("DATABASE_URL", "sqlite:///var/parley.db") or ""
    )
    public_url: str | None = field(default_factory=lambda: _env("PUBLIC_URL"))
    account_sid: str | None = field(default_factory=lambda: _env("ACCOUNT_SID"))
    auth_token: str | None = field(default_factory=lambda: _env("AUTH_TOKEN"))
    redis_url: str | None = field(default_factory=lambda: _env("REDIS_URL"))
    # encrypts push-credential secrets at rest; see parley/vault.py
    secret_key: str | None = field(default_factory=lambda: _env("SECRET_KEY"))

    @property
    def base_url(self) -> str:
        """The public base URL every emitted ``url``/``links``/``meta`` uses."""
        if self.public_url:
            return self.public_url.rstrip("/")
        return f"http://{self.host}:{self.port}"
