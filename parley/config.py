"""Settings from the environment (``PARLEY_*``), overridden by CLI flags."""

import os
from dataclasses import dataclass, field


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(f"PARLEY_{name}", default)


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() not in ("0", "false", "no", "off")


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
    control_plane: bool = field(default_factory=lambda: _env("CONTROL_PLANE", "") == "true")
    admin_token: str | None = field(default_factory=lambda: _env("ADMIN_TOKEN"))
    # the web console at /console (docs/console.md); PARLEY_CONSOLE=false turns it off
    console: bool = field(default_factory=lambda: _flag(_env("CONSOLE"), True))
    # encrypts push-credential secrets at rest; see parley/vault.py
    secret_key: str | None = field(default_factory=lambda: _env("SECRET_KEY"))
    # where the generated key is kept when SECRET_KEY is unset (parley/vault.py)
    secret_key_file: str | None = field(default_factory=lambda: _env("SECRET_KEY_FILE"))

    def to_env(self) -> dict[str, str]:
        """The ``PARLEY_*`` variables that rebuild these settings in another process."""
        values = {
            "HOST": self.host,
            "PORT": str(self.port),
            "DATABASE_URL": self.database_url,
            "PUBLIC_URL": self.public_url,
            "ACCOUNT_SID": self.account_sid,
            "AUTH_TOKEN": self.auth_token,
            "REDIS_URL": self.redis_url,
            "CONTROL_PLANE": "true" if self.control_plane else None,
            "ADMIN_TOKEN": self.admin_token,
            "CONSOLE": "true" if self.console else "false",
            "SECRET_KEY": self.secret_key,
            "SECRET_KEY_FILE": self.secret_key_file,
            "APNS_URL": self.apns_url,
            "APNS_SANDBOX_URL": self.apns_sandbox_url,
            "FCM_URL": self.fcm_url,
            "ALLOW_PRIVATE_WEBHOOKS": "1" if self.allow_private_webhooks else "0",
        }
        return {f"PARLEY_{k}": v for k, v in values.items() if v is not None}

    @property
    def base_url(self) -> str:
        """The public base URL every emitted ``url``/``links``/``meta`` uses."""
        if self.public_url:
            return self.public_url.rstrip("/")
        return f"http://{self.host}:{self.port}"

    # Webhook delivery (parley/webhooks, docs/behaviour.md §W5). Times in seconds.
    webhook_timeout: float = field(default_factory=lambda: float(_env("WEBHOOK_TIMEOUT", "5") or 5))
    # first retry delay; each further retry waits 4x longer (2 s, 8 s, 32 s)
    webhook_backoff: float = field(default_factory=lambda: float(_env("WEBHOOK_BACKOFF", "2") or 2))
    webhook_poll: float = field(default_factory=lambda: float(_env("WEBHOOK_POLL", "1") or 1))
    webhook_lease: float = field(default_factory=lambda: float(_env("WEBHOOK_LEASE", "30") or 30))
    webhook_concurrency: int = field(
        default_factory=lambda: int(_env("WEBHOOK_CONCURRENCY", "32") or 32)
    )
    # of those lanes, at most this many of one account and of one receiving
    # host at once (docs/security.md, "Webhook fairness")
    webhook_account_concurrency: int = field(
        default_factory=lambda: int(_env("WEBHOOK_ACCOUNT_CONCURRENCY", "8") or 8)
    )
    webhook_target_concurrency: int = field(
        default_factory=lambda: int(_env("WEBHOOK_TARGET_CONCURRENCY", "8") or 8)
    )
    webhook_stop_grace: float = field(
        default_factory=lambda: float(_env("WEBHOOK_STOP_GRACE", "1") or 1)
    )
    # finished deliveries (and their attempts) are kept this long: 7 days
    webhook_retention: float = field(
        default_factory=lambda: float(_env("WEBHOOK_RETENTION", "604800") or 604800)
    )
    # "0" runs no delivery worker in this process (API-only processes)
    webhook_worker: bool = field(default_factory=lambda: _env("WEBHOOK_WORKER", "1") != "0")
    # where `studio` channel webhooks are posted (no Studio here); unset: not sent
    studio_url: str | None = field(default_factory=lambda: _env("STUDIO_URL"))
    # pre-event webhook unreachable after its retries: reject (default) or allow
    prehook_fail_open: bool = field(
        default_factory=lambda: _env("PREHOOK_FAIL_OPEN", "0") not in ("0", "", "false")
    )
    # uploads not attached to a message (docs/security.md, "Media limits"): bytes
    # an account may hold at once, and seconds before they are deleted
    media_unattached_quota: int = field(
        default_factory=lambda: int(_env("MEDIA_UNATTACHED_QUOTA", str(1 << 30)) or 1 << 30)
    )
    media_unattached_ttl: float = field(
        default_factory=lambda: float(_env("MEDIA_UNATTACHED_TTL", "86400") or 86400)
    )
    # Bearer token /metrics requires when set (docs/security.md, "Health and metrics")
    metrics_token: str | None = field(default_factory=lambda: _env("METRICS_TOKEN"))
    # seconds a connection may take to send a request's line and headers
    # (docs/security.md, "Slow and idle connections")
    header_timeout: float = field(default_factory=lambda: float(_env("HEADER_TIMEOUT", "10") or 10))
    # real-time sockets (docs/security.md, "Real-time connections"): seconds a
    # socket may take to send init, sockets at once per token and per account
    # seconds between this process's presence heartbeats; a crashed process's
    # sockets count as connected for three of them (realtime/chat/reachability.py)
    presence_heartbeat: float = field(
        default_factory=lambda: float(_env("PRESENCE_HEARTBEAT", "10") or 10)
    )
    ws_init_timeout: float = field(
        default_factory=lambda: float(_env("WS_INIT_TIMEOUT", "10") or 10)
    )
    ws_sockets_per_token: int = field(
        default_factory=lambda: int(_env("WS_SOCKETS_PER_TOKEN", "10") or 10)
    )
    ws_sockets_per_account: int = field(
        default_factory=lambda: int(_env("WS_SOCKETS_PER_ACCOUNT", "10000") or 10000)
    )
    # webhook targets on loopback, private, link-local... addresses: refused
    # unless set (docs/security.md, "Webhook targets"); `parley dev` and the
    # pytest plugin set it, `parley serve` does not
    allow_private_webhooks: bool = field(
        default_factory=lambda: _flag(_env("ALLOW_PRIVATE_WEBHOOKS"), False)
    )

    # Push delivery (parley/push, docs/push.md). Gateways' base URLs: Apple's and
    # Google's by default; tests, relays and egress proxies set their own.
    apns_url: str = field(
        default_factory=lambda: (
            _env("APNS_URL", "https://api.push.apple.com") or "https://api.push.apple.com"
        )
    )
    apns_sandbox_url: str = field(
        default_factory=lambda: (
            _env("APNS_SANDBOX_URL", "https://api.sandbox.push.apple.com")
            or "https://api.sandbox.push.apple.com"
        )
    )
    fcm_url: str = field(
        default_factory=lambda: (
            _env("FCM_URL", "https://fcm.googleapis.com") or "https://fcm.googleapis.com"
        )
    )
    push_timeout: float = field(default_factory=lambda: float(_env("PUSH_TIMEOUT", "10") or 10))
    # first retry delay; each further one 4x longer (2 s, 8 s, 32 s, 128 s, 512 s)
    push_backoff: float = field(default_factory=lambda: float(_env("PUSH_BACKOFF", "2") or 2))
    push_retries: int = field(default_factory=lambda: int(_env("PUSH_RETRIES", "5") or 5))
    push_poll: float = field(default_factory=lambda: float(_env("PUSH_POLL", "1") or 1))
    push_lease: float = field(default_factory=lambda: float(_env("PUSH_LEASE", "30") or 30))
    # pushes in flight at once in one process (HTTP/2 streams over few connections)
    push_concurrency: int = field(
        default_factory=lambda: int(_env("PUSH_CONCURRENCY", "256") or 256)
    )
    # record pushes without contacting a gateway (the pytest plugin's default:
    # app tests assert what was sent, docs/testing.md)
    push_record_only: bool = field(default_factory=lambda: _flag(_env("PUSH_RECORD_ONLY"), False))
    # "0" runs no push sender in this process (API-only processes)
    push_worker: bool = field(default_factory=lambda: _env("PUSH_WORKER", "1") != "0")
