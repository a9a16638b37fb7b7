"""Time in Parley: integer microseconds since the epoch, UTC.

Twilio renders dates as ``YYYY-MM-DDTHH:MM:SSZ`` in JSON (docs/behaviour.md §C4) and
with milliseconds in webhooks (docs/behaviour.md §W3.1). Stored values keep microseconds
so that ordering by time is exact; what clients send is accepted as any ISO 8601
date-time with ``Z`` or an offset (docs/behaviour.md §C3.1).
"""

import time
from datetime import UTC, datetime
from functools import lru_cache

Micros = int


def now() -> Micros:
    return time.time_ns() // 1000


# Years are always four digits: ``strftime("%Y")`` renders year 41 as "41",
# which is not an ISO 8601 date-time (docs/security.md, "Bad input");
# strftime stays the fast path for the years it renders right.
_SECONDS = "%04d-%02d-%02dT%02d:%02d:%02d"
# what parse_iso accepts: the years four digits can render, after conversion to UTC
MIN: Micros = -62135596800 * 1_000_000  # 0001-01-01T00:00:00Z
MAX: Micros = 253402300799 * 1_000_000  # 9999-12-31T23:59:59Z
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_twilio(value: Micros | None) -> str | None:
    """The REST JSON date format, second precision."""
    if value is None:
        return None
    return _twilio(value // 1_000_000)


# Formatting a date costs ~1 us, and a list page renders two per row: a
# message's date_created and date_updated are the same second until it is
# edited, and a busy channel's messages share their seconds, so the strings
# of recent seconds are kept (README, "What profiling found and fixed").
@lru_cache(maxsize=4096)
def _twilio(seconds: int) -> str:
    return _seconds(seconds) + "Z"


def to_webhook(value: Micros | None) -> str | None:
    """ISO 8601 with milliseconds, as Twilio's webhooks send dates."""
    if value is None:
        return None
    return f"{_seconds(value // 1_000_000)}.{(value // 1000) % 1000:03d}Z"


def _seconds(seconds: int) -> str:
    parts = time.gmtime(seconds)
    if parts.tm_year >= 1000:
        return time.strftime("%Y-%m-%dT%H:%M:%S", parts)
    return _SECONDS % parts[:6]


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
    micros = int((parsed - _EPOCH).total_seconds()) * 1_000_000
    if not MIN <= micros <= MAX:  # e.g. 0001-01-01T00:00:00+01:00 is year 0 in UTC
        raise ValueError(text)
    return micros
