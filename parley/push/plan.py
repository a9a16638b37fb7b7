"""Who is told what: a projector (one of ``parley.app.PROJECTORS``) that plans
an event's pushes in its own transaction (docs/behaviour.md §P1, §P3;
docs/push.md, "What is sent when").

::

    onMessageSent / onMediaMessageSent  -> new_message: every member but the
                                           author, unless muted in that channel
    onMemberAdded (added by another)    -> added_to_channel: the added user
    parley.invite.created               -> invited_to_channel: the invited user
    onMemberRemoved (by another)        -> removed_from_channel: the removed user

Each type only while the service enables it, and only to the user's bindings
whose ``message_types`` include it. The text is rendered here (template or
default, placeholders of docs/behaviour.md §P1.3), with the type's sound and,
for new messages with ``badge_count_enabled``, the user's unread total, so
what is sent is what was true at commit. A removal that is the cascade of a
user's deletion (source ``system``) tells no one: the user and its bindings
go in the same transaction.
"""

from typing import Any

import orjson

from parley import timefmt
from parley.domain import bindings, channels, members, messages, services, users
from parley.domain.members import ADDED, REMOVED
from parley.events import Event
from parley.push import outbox
from parley.store import Row, Tx

NEW_MESSAGE = "new_message"
ADDED_TO_CHANNEL = "added_to_channel"
INVITED_TO_CHANNEL = "invited_to_channel"
REMOVED_FROM_CHANNEL = "removed_from_channel"

# the message type the SDKs read (twilio-chat's NotificationTypes)
SDK_TYPES = {
    NEW_MESSAGE: "twilio.channel.new_message",
    ADDED_TO_CHANNEL: "twilio.channel.added_to_channel",
    INVITED_TO_CHANNEL: "twilio.channel.invited_user",
    REMOVED_FROM_CHANNEL: "twilio.channel.removed_from_channel",
}

# docs/behaviour.md §P1.3: the texts when no template is set
DEFAULT_TEMPLATES = {
    NEW_MESSAGE: "${CHANNEL};${USER}: ${MESSAGE}",
    ADDED_TO_CHANNEL: "You have been added to channel ${CHANNEL} by ${USER}",
    INVITED_TO_CHANNEL: "${USER} has invited you to join the channel ${CHANNEL}",
    REMOVED_FROM_CHANNEL: "${USER} has removed you from the channel ${CHANNEL}",
}

SYSTEM = "system"  # the actor of a REST change that names none (docs/behaviour.md §R5)
PLANNED = "push"  # Event.planned: this event queued pushes


def push_type(event: Event) -> str | None:
    """The push type an event may cause, if any."""
    kind = event.kind
    if kind in ("onMessageSent", "onMediaMessageSent"):
        return NEW_MESSAGE
    if kind == "onMemberAdded" and event.payload.get("reason", ADDED) == ADDED:
        return ADDED_TO_CHANNEL
    if kind == "parley.invite.created":
        return INVITED_TO_CHANNEL
    if (
        kind == "onMemberRemoved"
        and event.payload.get("reason", REMOVED) == REMOVED
        and event.source != "system"
    ):
        return REMOVED_FROM_CHANNEL
    return None


def render(template: str, values: dict[str, str]) -> str:
    """Plain substitution of the known ``${NAME}``; anything else stays as is."""
    out = template
    # longest names first: ${USER} must not eat the start of ${USER_IDENTITY}
    for name in sorted(values, key=len, reverse=True):
        out = out.replace("${" + name + "}", values[name])
    return out


async def plan(tx: Tx, event: Event) -> None:
    """Projector: the event's pushes, in the event's own transaction."""
    kind = push_type(event)
    if kind is None or event.service_sid is None:
        return
    # a new message's, as its index take returned them
    service = event.held.get(messages.HELD_PUSH) if kind == NEW_MESSAGE else None
    if service is None:
        service = await services.push_settings(tx, event.service_sid, kind)
    if service is None or not service["enabled"]:
        return
    targets = await _bindings(tx, event, kind)
    if not targets:
        return
    payload = event.payload
    # a new message's, as its index take left it
    channel: channels.ChannelRow | None = event.held.get("channel")
    if channel is None and event.channel_sid:
        channel = await channels.by_sid(tx, event.channel_sid)
    actor = _actor(event, kind)
    user = await users.by_identity(tx, event.service_sid, actor)
    values = _placeholders(event, kind, channel or payload, actor, user)
    body = render(service["template"] or DEFAULT_TEMPLATES[kind], values)
    data: dict[str, Any] = {"channel_sid": event.channel_sid}
    if kind == NEW_MESSAGE:
        data.update(message_sid=payload["sid"], message_index=payload["idx"], author=actor)
    badge_on = (
        kind == NEW_MESSAGE and bool(service["badge"]) and bool(service["read_status_enabled"])
    )
    recipients = sorted({b["user_sid"] for b in targets})
    badges = await members.unread_totals(tx, recipients) if badge_on else {}
    now = timefmt.now()
    rows = []
    for binding in targets:
        content = {
            "type": SDK_TYPES[kind],
            "body": body,
            "sound": service["sound"],
            "badge": badges.get(binding["user_sid"], 0) if badge_on else None,
            "data": data,
        }
        rows.append(
            {
                "event_seq": event.seq,
                "kind": kind,
                "account_sid": event.account_sid,
                "service_sid": event.service_sid,
                "channel_sid": event.channel_sid,
                "identity": binding["identity"],
                "binding_sid": binding["sid"],
                "binding_type": binding["binding_type"],
                "credential_sid": binding["credential_sid"],
                "address": binding["address"] or binding["endpoint"],
                "payload": orjson.dumps(content).decode(),
                "log_enabled": int(bool(service["log_enabled"])),
                "state": outbox.PENDING,
                "attempts": 0,
                "next_at": 0,
                "date_created": now,
            }
        )
    await outbox.enqueue(tx, rows)
    event.planned.add(PLANNED)  # the push workers are woken for it after commit


async def _bindings(tx: Tx, event: Event, kind: str) -> list[Row]:
    """The recipients' bindings that accept ``kind``."""
    if kind == NEW_MESSAGE:
        # every member but the author, unless muted (docs/behaviour.md §P9)
        author = event.payload.get("author") or ""
        rows = await bindings.push_targets_in_channel(tx, event.channel_sid or "", author)
    else:
        rows = await bindings.push_targets(tx, event.service_sid, event.payload.get("identity"))
    return [r for r in rows if _accepts(r["message_types"], kind)]


def _accepts(message_types: str | None, kind: str) -> bool:
    if message_types is None:
        return True  # docs/behaviour.md §P3: default all four
    try:
        wanted = orjson.loads(message_types)
    except orjson.JSONDecodeError:
        return True
    return not isinstance(wanted, list) or kind in wanted


def _actor(event: Event, kind: str) -> str:
    """Who caused the push: the message's author, the invite's creator, else
    the acting client's identity, else ``system`` (a REST change)."""
    payload = event.payload
    if kind == NEW_MESSAGE:
        return str(payload.get("author") or SYSTEM)
    if kind == INVITED_TO_CHANNEL and payload.get("created_by"):
        return str(payload["created_by"])
    return event.identity or SYSTEM


def _placeholders(
    event: Event, kind: str, channel: channels.ChannelRow, actor: str, user: users.UserRow | None
) -> dict[str, str]:
    friendly = (user or {}).get("friendly_name") or ""
    channel_sid = event.channel_sid or ""
    values = {
        "USER": friendly or actor,
        "USER_FRIENDLY_NAME": friendly,
        "USER_IDENTITY": actor,
        "CHANNEL": channel.get("friendly_name") or channel.get("unique_name") or channel_sid,
        "CHANNEL_FRIENDLY_NAME": channel.get("friendly_name") or "",
        "CHANNEL_UNIQUE_NAME": channel.get("unique_name") or "",
        "CHANNEL_SID": channel_sid,
    }
    if kind == NEW_MESSAGE:
        payload = event.payload
        body = payload.get("body")
        if payload.get("media_sid") and not body:
            # docs/behaviour.md §P8: a media message without text
            body = payload.get("compatibility_message") or ""
        values["MESSAGE"] = body or ""
    return values
