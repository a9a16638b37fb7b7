"""Seed files: a readable YAML (or JSON) description of the state a test wants.

::

    services:
      - friendly_name: Support        # key: an existing service of that name is reused
        reachability_enabled: true    # any Service update field (python names)
        roles:
          - {friendly_name: moderator, type: channel, permissions: [sendMessage]}
        users:
          - identity: alice           # key
            friendly_name: Alice
            attributes: {tier: gold}  # a mapping is stored as its JSON text

Applying a seed twice gives the same state: every entry has a key, and an entry
whose key exists is left as it is. Everything goes through the same domain
actions as REST, so the defaults, validation and events are the same.
"""

from typing import Any

import orjson
import yaml

from parley.domain import roles, services, users
from parley.errors import TwilioError
from parley.events import Origin
from parley.store import Row, Tx, repo

ORIGIN = Origin("system")


class SeedError(ValueError):
    """A seed that cannot be applied; says where."""


def parse(body: bytes, content_type: str) -> Any:
    try:
        if "json" in content_type:
            return orjson.loads(body)
        return yaml.safe_load(body.decode("utf-8"))
    except (orjson.JSONDecodeError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise TwilioError(20001, message=f"Unreadable seed: {exc}") from None


def _json_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def _entries(parent: dict[str, Any], key: str, where: str) -> list[dict[str, Any]]:
    value = parent.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise SeedError(f"{where}.{key} must be a list of mappings")
    return value


def _known(entry: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = set(entry) - allowed
    if unknown:
        raise SeedError(f"{where}: unknown keys {sorted(unknown)}")


SERVICE_SETTINGS = set(services.DEFAULTS) | {
    "default_service_role_sid",
    "default_channel_role_sid",
    "default_channel_creator_role_sid",
}


async def apply(tx: Tx, account_sid: str, document: Any) -> dict[str, int]:
    if not isinstance(document, dict):
        raise SeedError("a seed is a mapping with a `services` list")
    _known(document, {"services"}, "seed")
    counts = {"services": 0, "roles": 0, "users": 0}
    for i, entry in enumerate(_entries(document, "services", "seed")):
        where = f"services[{i}]"
        _known(entry, {"friendly_name", "roles", "users"} | SERVICE_SETTINGS, where)
        name = entry.get("friendly_name")
        if not isinstance(name, str) or not name:
            raise SeedError(f"{where}: friendly_name is its key and is required")
        service = await repo.get(
            tx, "services", {"account_sid": account_sid, "friendly_name": name}
        )
        if service is None:
            service = await services.create(tx, account_sid, name)
            counts["services"] += 1
        settings = {
            k: v
            for k, v in entry.items()
            if k in SERVICE_SETTINGS and service[k] != (int(v) if isinstance(v, bool) else v)
        }
        if settings:  # only what differs: a second run changes nothing
            service = await services.update(tx, service, settings)
        counts["roles"] += await _roles(tx, service, entry, where)
        counts["users"] += await _users(tx, service, entry, where)
    return counts


async def _roles(tx: Tx, service: Row, entry: dict[str, Any], where: str) -> int:
    made = 0
    for j, role in enumerate(_entries(entry, "roles", where)):
        at = f"{where}.roles[{j}]"
        _known(role, {"friendly_name", "type", "permissions"}, at)
        key = {"service_sid": service["sid"], "friendly_name": role.get("friendly_name")}
        if await repo.get(tx, "roles", key) is None:
            await roles.create(
                tx,
                service,
                {
                    "friendly_name": role.get("friendly_name"),
                    "type": role.get("type", roles.CHANNEL),
                    "permissions": list(role.get("permissions") or []),
                },
            )
            made += 1
    return made


async def _users(tx: Tx, service: Row, entry: dict[str, Any], where: str) -> int:
    made = 0
    for j, user in enumerate(_entries(entry, "users", where)):
        at = f"{where}.users[{j}]"
        _known(user, {"identity", "friendly_name", "attributes", "role_sid"}, at)
        identity = user.get("identity")
        if not isinstance(identity, str) or not identity:
            raise SeedError(f"{at}: identity is required")
        if await users.find(tx, service, identity) is None:
            await users.create(
                tx,
                service,
                identity,
                ORIGIN,
                role_sid=user.get("role_sid"),
                friendly_name=user.get("friendly_name"),
                attributes=_json_text(user.get("attributes")),
            )
            made += 1
    return made
