"""Seed files: a readable YAML (or JSON) description of the state a test wants.

::

    credentials:                      # account-wide push credentials
      - {friendly_name: android, type: fcm, secret: "fcm-server-key"}   # key: friendly_name
    services:
      - friendly_name: Support        # key: an existing service of that name is reused
        reachability_enabled: true    # any Service update field (python names)
        roles:
          - {friendly_name: moderator, type: channel, permissions: [sendMessage]}
        users:
          - identity: alice           # key
            friendly_name: Alice
            attributes: {tier: gold}  # a mapping is stored as its JSON text
        bindings:                     # key: identity + endpoint + binding_type
          - {identity: alice, endpoint: pixel-7, binding_type: fcm, credential: android}
        channels:                     # see seed_channels.py
          - unique_name: general      # key
            members: [alice, {identity: bob, role: moderator}]
            messages: [{from: alice, body: Hi}]

Applying a seed twice gives the same state: every entry has a key, and an entry
whose key exists is left as it is (messages are keyed by their index). Everything
goes through the same domain actions as REST, so the defaults, validation,
counters and events are the same; a seed fires no webhooks (``Origin`` of the
system, like a REST call without ``X-Twilio-Webhook-Enabled``).
"""

from collections.abc import Mapping
from typing import Any

import orjson
import yaml

from parley.control import seed_channels
from parley.control.seed_common import ORIGIN, SeedError, entries, json_text, known, step
from parley.domain import bindings, credentials, roles, services, users
from parley.errors import TwilioError
from parley.store import Tx
from parley.vault import Vault

__all__ = ["SeedError", "apply", "parse"]


def parse(body: bytes, content_type: str) -> Any:
    try:
        if "json" in content_type:
            return orjson.loads(body)
        return yaml.safe_load(body.decode("utf-8"))
    except (orjson.JSONDecodeError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise TwilioError(20001, message=f"Unreadable seed: {exc}") from None


SERVICE_SETTINGS = set(services.DEFAULTS) | {
    "default_service_role_sid",
    "default_channel_role_sid",
    "default_channel_creator_role_sid",
}
_SERVICE_KEYS = {"friendly_name", "roles", "users", "bindings", "channels"}
COUNTS = ("credentials", "services", "roles", "users", "bindings", *seed_channels.COUNTS)


async def apply(
    tx: Tx, account_sid: str, document: Any, vault: Vault | None = None
) -> dict[str, int]:
    """Apply a seed in one transaction; returns what it created, per kind."""
    if not isinstance(document, dict):
        raise SeedError("a seed is a mapping with a `services` list")
    known(document, {"services", "credentials"}, "seed")
    counts = dict.fromkeys(COUNTS, 0)
    counts["credentials"] = await _credentials(tx, account_sid, document, vault)
    for i, entry in enumerate(entries(document, "services", "seed")):
        where = f"services[{i}]"
        known(entry, _SERVICE_KEYS | SERVICE_SETTINGS, where)
        service = await step(where, _service(tx, account_sid, entry, where, counts))
        counts["roles"] += await _roles(tx, service, entry, where)
        counts["users"] += await _users(tx, service, entry, where)
        for name, made in (await seed_channels.apply(tx, service, entry, where)).items():
            counts[name] += made
        counts["bindings"] += await _bindings(tx, service, entry, where)
    return counts


async def _service(
    tx: Tx, account_sid: str, entry: dict[str, Any], where: str, counts: dict[str, int]
) -> services.Service:
    name = entry.get("friendly_name")
    if not isinstance(name, str) or not name:
        raise SeedError(f"{where}: friendly_name is its key and is required")
    service = await services.by_name(tx, account_sid, name)
    if service is None:
        service = await services.create(tx, account_sid, name)
        counts["services"] += 1
    current: Mapping[str, Any] = service  # read by the seed's own keys
    settings = {
        k: v
        for k, v in entry.items()
        if k in SERVICE_SETTINGS and current[k] != (int(v) if isinstance(v, bool) else v)
    }
    if settings:  # only what differs: a second run changes nothing
        service = await services.update(tx, service, settings)
    return service


async def _roles(tx: Tx, service: services.Service, entry: dict[str, Any], where: str) -> int:
    made = 0
    for j, role in enumerate(entries(entry, "roles", where)):
        at = f"{where}.roles[{j}]"
        known(role, {"friendly_name", "type", "permissions"}, at)
        if await roles.by_name(tx, service["sid"], role.get("friendly_name")) is None:
            values = {
                "friendly_name": role.get("friendly_name"),
                "type": role.get("type", roles.CHANNEL),
                "permissions": list(role.get("permissions") or []),
            }
            await step(at, roles.create(tx, service, values))
            made += 1
    return made


async def _users(tx: Tx, service: services.Service, entry: dict[str, Any], where: str) -> int:
    made = 0
    for j, user in enumerate(entries(entry, "users", where)):
        at = f"{where}.users[{j}]"
        known(user, {"identity", "friendly_name", "attributes", "role_sid"}, at)
        identity = user.get("identity")
        if not isinstance(identity, str) or not identity:
            raise SeedError(f"{at}: identity is required")
        if await users.find(tx, service, identity) is None:
            created = users.create(
                tx,
                service,
                identity,
                ORIGIN,
                role_sid=user.get("role_sid"),
                friendly_name=user.get("friendly_name"),
                attributes=json_text(user.get("attributes")),
            )
            await step(at, created)
            made += 1
    return made


async def _credentials(
    tx: Tx, account_sid: str, document: dict[str, Any], vault: Vault | None
) -> int:
    """Key: friendly_name. Secrets by python name (``secret``, ``api_key``,
    ``certificate`` + ``private_key``), sealed like REST does: needs a key."""
    made = 0
    for j, entry in enumerate(entries(document, "credentials", "seed")):
        at = f"credentials[{j}]"
        secrets = {name for pairs in credentials.SECRETS.values() for name, _ in pairs}
        known(entry, {"friendly_name", "type", "sandbox"} | secrets, at)
        name = entry.get("friendly_name")
        if not isinstance(name, str) or not name:
            raise SeedError(f"{at}: friendly_name is its key and is required")
        if entry.get("type") not in credentials.TYPES:
            raise SeedError(f"{at}: type must be one of {list(credentials.TYPES)}")
        if await credentials.by_name(tx, account_sid, name) is not None:
            continue
        if vault is None or not vault.ready:
            raise SeedError(f"{at}: credentials need PARLEY_SECRET_KEY on the server")
        await step(at, credentials.create(tx, vault, account_sid, dict(entry)))
        made += 1
    return made


async def _bindings(tx: Tx, service: services.Service, entry: dict[str, Any], where: str) -> int:
    made = 0
    for j, binding in enumerate(entries(entry, "bindings", where)):
        at = f"{where}.bindings[{j}]"
        known(binding, {"identity", "endpoint", "binding_type", "credential", "message_types"}, at)
        key: dict[str, Any] = {  # checked below: the seed's values are untyped
            "service_sid": service["sid"],
            "identity": binding.get("identity"),
            "endpoint": binding.get("endpoint"),
            "binding_type": binding.get("binding_type"),
        }
        if not all(isinstance(v, str) and v for v in key.values()):
            raise SeedError(f"{at}: identity, endpoint and binding_type are required")
        if await bindings.by_endpoint(tx, *key.values()) is not None:
            continue
        credential_sid = None
        if binding.get("credential") is not None:
            found = await credentials.by_name(tx, service["account_sid"], binding["credential"])
            if found is None:
                raise SeedError(f"{at}: no credential named {binding['credential']!r}")
            credential_sid = found["sid"]
        registered = bindings.register(
            tx,
            service,
            key["identity"],
            key["endpoint"],
            key["binding_type"],
            ORIGIN,
            credential_sid=credential_sid,
            message_types=binding.get("message_types"),
        )
        await step(at, registered)
        made += 1
    return made
