"""Time in Parley: integer microseconds since the epoch, UTC.

Twilio renders dates as ``YYYY-MM-DDTHH:MM:SSZ`` in JSON (conventions.md §4) and
with milliseconds in webhooks (webhooks.md §3.1). Stored values keep microseconds
so that ordering by time is exact; what clients send is accepted as any ISO 8601
date-time with ``Z`` or an offset (conventions.md §3.1).
"""

import time
from datetime import UTC, datetime

Micros = int


def now() -> Micros:
    return time.time_ns() // 1000


def to_twilio(value: Micros | None) -> str | None:
    """The REST JSON date format, second precision."""
    if value is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(value // 1_000_000))


def to_webhook(value: Micros | None) -> str | None:
    """ISO 8601 with milliseconds, as Twilio's webhooks send dates."""
    if value is None:
        return None
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(value // 1_000_000))
    return f"{base}.{(value // 1000) % 1000:03d}Z"


def parse_iso(text: str) -> Micros:
    """Parse an ISO 8601 date-time; a value without an offset is taken as UTC.

    Raises ``ValueError`` on anything else; callers turn that into their own
    Twilio error code (50308, 50309, 50405, ...).
    """
    value = text.strip()
    if not value or "T" not in value.upper():
        raise ValueError(text)
    if value[-1] in "zZ":
        value = value[:-1] + "+00:00"
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    # second precision is what Twilio keeps for supplied dates
    return int(parsed.timestamp()) * 1_000_000
