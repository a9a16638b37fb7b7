"""What every part of a seed shares: its origin, error, and entry checks."""

from collections.abc import Awaitable
from typing import Any, TypeVar

import orjson

from parley.errors import TwilioError
from parley.events import Origin

T = TypeVar("T")

# Parley itself, without webhooks: a seed describes state, it is not traffic
ORIGIN = Origin("system")


class SeedError(ValueError):
    """A seed that cannot be applied; says where."""


def json_text(value: Any) -> str | None:
    """Attributes: a mapping or list is stored as its JSON text, a string as is."""
    if value is None or isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def entries(parent: dict[str, Any], key: str, where: str) -> list[dict[str, Any]]:
    value = parent.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise SeedError(f"{where}.{key} must be a list of mappings")
    return value


def known(entry: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = set(entry) - allowed
    if unknown:
        raise SeedError(f"{where}: unknown keys {sorted(unknown)}")


async def step(where: str, action: Awaitable[T]) -> T:
    """Run one domain action; its Twilio error names the seed entry."""
    try:
        return await action
    except TwilioError as exc:
        raise SeedError(f"{where}: {exc.message} ({exc.code})") from None
