"""The channels part of a seed: channels, their members, invites and messages.

::

    channels:
      - unique_name: general          # key (required: it is how a second run finds it)
        friendly_name: General
        type: private                 # public (default) | private
        attributes: {topic: help}
        created_by: alice             # default "system", as for REST
        members:
          - alice                     # an identity (the user is created if new), or
          - {identity: bob, role: moderator, attributes: {desk: 2}}  # role: friendly name
        invites:
          - {identity: carol, role: moderator}   # skipped if carol is already a member
        messages:
          - {from: alice, body: Hello, attributes: {pinned: true}}
          - {from: bob, body: Hi}

Messages are keyed by index: the n-th entry is the channel's message with index
n, created only while the channel's next index is still <= n. So a second run
adds nothing, and appending entries to a seed that was already applied adds just
the new ones. A message deleted since is not brought back (indexes are never
reused). Members are keyed by identity, invites by identity.
"""

from typing import Any, cast

from parley.control.seed_common import ORIGIN, SeedError, entries, json_text, known, step
from parley.domain import channels, invites, members, messages, roles, services, users
from parley.store import Row, Tx

COUNTS = ("channels", "members", "invites", "messages")
_CHANNEL_KEYS = {"unique_name", "friendly_name", "type", "attributes", "created_by"}
_CHILDREN = {"members", "invites", "messages"}


async def apply(
    tx: Tx, service: services.Service, entry: dict[str, Any], where: str
) -> dict[str, int]:
    counts = dict.fromkeys(COUNTS, 0)
    for i, spec in enumerate(entries(entry, "channels", where)):
        at = f"{where}.channels[{i}]"
        known(spec, _CHANNEL_KEYS | _CHILDREN, at)
        channel = await _channel(tx, service, spec, at, counts)
        counts["members"] += await _members(tx, service, channel, spec, at)
        counts["invites"] += await _invites(tx, service, channel, spec, at)
        counts["messages"] += await _messages(tx, service, channel, spec, at)
    return counts


async def _channel(
    tx: Tx, service: services.Service, spec: dict[str, Any], at: str, counts: dict[str, int]
) -> Row:
    name = spec.get("unique_name")
    if not isinstance(name, str) or not name:
        raise SeedError(f"{at}: unique_name is its key and is required")
    found = await channels.find(tx, service, name)
    if found is not None:
        return found
    if spec.get("type", channels.PUBLIC) not in channels.TYPES:
        raise SeedError(f"{at}: type must be one of {list(channels.TYPES)}")
    values = {
        "unique_name": name,
        "friendly_name": spec.get("friendly_name"),
        "type": spec.get("type"),
        "attributes": json_text(spec.get("attributes")),
        "created_by": spec.get("created_by"),
    }
    counts["channels"] += 1
    return await step(at, channels.create(tx, service, values, ORIGIN))


async def _role_sid(tx: Tx, service: services.Service, name: Any, at: str) -> str | None:
    """A channel role by friendly name (None: the service's default)."""
    if name is None:
        return None
    role = await roles.by_name(tx, service["sid"], name)
    if role is None or role["type"] != roles.CHANNEL:
        raise SeedError(f"{at}: no channel role named {name!r}")
    return str(role["sid"])


def _person(value: Any, at: str) -> dict[str, Any]:
    entry = {"identity": value} if isinstance(value, str) else value
    if not isinstance(entry, dict) or not isinstance(entry.get("identity"), str):
        raise SeedError(f"{at}: an identity, or a mapping with one")
    return entry


def _list(spec: dict[str, Any], key: str, at: str) -> list[Any]:
    value = spec.get(key) or []
    if not isinstance(value, list):
        raise SeedError(f"{at}.{key} must be a list")
    return value


async def _members(
    tx: Tx,
    service: services.Service,
    channel: channels.ChannelRow,
    spec: dict[str, Any],
    where: str,
) -> int:
    made = 0
    for j, value in enumerate(_list(spec, "members", where)):
        at = f"{where}.members[{j}]"
        member = _person(value, at)
        known(member, {"identity", "role", "attributes"}, at)
        if await members.find(tx, channel, member["identity"]) is not None:
            continue
        values = {
            "role_sid": await _role_sid(tx, service, member.get("role"), at),
            "attributes": json_text(member.get("attributes")),
        }
        await step(at, members.add(tx, service, channel, member["identity"], ORIGIN, values))
        made += 1
    return made


async def _invites(
    tx: Tx,
    service: services.Service,
    channel: channels.ChannelRow,
    spec: dict[str, Any],
    where: str,
) -> int:
    made = 0
    for j, value in enumerate(_list(spec, "invites", where)):
        at = f"{where}.invites[{j}]"
        invite = _person(value, at)
        known(invite, {"identity", "role"}, at)
        pending = await invites.pending(tx, channel["sid"], invite["identity"])
        if pending or await members.by_identity(tx, channel["sid"], invite["identity"]):
            continue  # pending already, or fulfilled (a member now)
        role_sid = await _role_sid(tx, service, invite.get("role"), at)
        user, _ = await step(at, users.get_or_create(tx, service, invite["identity"], ORIGIN))
        await step(at, members.invite(tx, service, channel, user, ORIGIN, role_sid))
        made += 1
    return made


async def _messages(
    tx: Tx,
    service: services.Service,
    channel: channels.ChannelRow,
    spec: dict[str, Any],
    where: str,
) -> int:
    items = entries(spec, "messages", where)
    for j, message in enumerate(items):
        known(message, {"from", "body", "attributes"}, f"{where}.messages[{j}]")
    start = int((await channels.reload(tx, channel))["next_message_index"])
    for j, message in enumerate(items[start:], start):
        at = f"{where}.messages[{j}]"
        values = {
            "author": message.get("from"),
            "body": None if message.get("body") is None else str(message["body"]),
            "attributes": json_text(message.get("attributes")),
        }
        # domain/messages.py takes untyped rows, until it takes the owners' typed ones
        created = messages.create(tx, cast(Row, service), cast(Row, channel), values, ORIGIN)
        await step(at, created)
    return max(len(items) - start, 0)
