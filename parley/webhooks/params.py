"""Event -> the parameters Twilio sends for it (docs/behaviour.md §W3).

Every event carries ``EventType``, ``AccountSid``, ``InstanceSid``, ``Source``
(``SDK`` for client actions, ``API`` otherwise), ``ClientIdentity`` (SDK only)
and ``RetryCount``. The event-specific names come from docs/behaviour.md §W3.2: the
``onMessageSent`` list is a capture, the others are reconstructed
(docs/decisions.md §37). Dates are ISO 8601 with milliseconds
(``timefmt.to_webhook``); attributes are the JSON string, ``{}`` when unset;
booleans are ``true``/``false``; a null value is omitted (docs/behaviour.md §W3.2,
last line).
"""

from collections.abc import Callable
from typing import Any

from parley import timefmt
from parley.events import Event

Params = dict[str, str]

# parameter name -> how to read it from the event (payload = row + extras)
Getter = Callable[[Event], Any]


def _p(key: str) -> Getter:
    return lambda e: e.payload.get(key)


def _date(key: str) -> Getter:
    return lambda e: timefmt.to_webhook(e.payload.get(key))


def _attributes(e: Event) -> str:
    value = e.payload.get("attributes")
    return "{}" if value is None else str(value)


def _media(key: str) -> Getter:
    def get(e: Event) -> Any:
        media = e.payload.get("media") or {}
        return media.get(key)

    return get


def _media_sid(e: Event) -> Any:
    return e.payload.get("media_sid") or (e.payload.get("media") or {}).get("sid")


def _removed(e: Event) -> str | None:
    # the moment of removal is the moment the event was recorded
    return timefmt.to_webhook(e.date_created)


def _channel(e: Event) -> Any:
    return e.channel_sid or e.payload.get("channel_sid")


_MESSAGE: dict[str, Getter] = {
    "ChannelSid": _channel,
    "MessageSid": _p("sid"),
    "Index": _p("idx"),
    "Body": _p("body"),
    "Attributes": _attributes,
    "From": _p("author"),
}
_CHANNEL: dict[str, Getter] = {
    "ChannelSid": _p("sid"),
    "FriendlyName": _p("friendly_name"),
    "UniqueName": _p("unique_name"),
    "Attributes": _attributes,
    "ChannelType": _p("type"),
    "CreatedBy": _p("created_by"),
    "DateCreated": _date("date_created"),
}
_MEMBER: dict[str, Getter] = {
    "ChannelSid": _channel,
    "MemberSid": _p("sid"),
    "Identity": _p("identity"),
    "RoleSid": _p("role_sid"),
}
_USER: dict[str, Getter] = {
    "UserSid": _p("sid"),
    "Identity": _p("identity"),
    "FriendlyName": _p("friendly_name"),
    "RoleSid": _p("role_sid"),
    "Attributes": _attributes,
}

# docs/behaviour.md §W3.2, post-event rows
EVENT_PARAMS: dict[str, dict[str, Getter]] = {
    "onMessageSent": {**_MESSAGE, "DateCreated": _date("date_created")},
    "onMediaMessageSent": {
        "ChannelSid": _channel,
        "MessageSid": _p("sid"),
        "Index": _p("idx"),
        "Attributes": _attributes,
        "From": _p("author"),
        "MediaSid": _media_sid,
        "MediaContentType": _media("content_type"),
        "MediaFilename": _media("filename"),
        "MediaSize": _media("size"),
        "DateCreated": _date("date_created"),
    },
    "onMessageUpdated": {
        **_MESSAGE,
        "ModifiedBy": _p("modified_by"),
        "DateCreated": _date("date_created"),
        "DateUpdated": _date("date_updated"),
    },
    "onMessageRemoved": {
        **_MESSAGE,
        "RemovedBy": _p("removed_by"),
        "DateCreated": _date("date_created"),
        "DateUpdated": _date("date_updated"),
        "DateRemoved": _removed,
    },
    "onChannelAdded": _CHANNEL,
    "onChannelUpdated": {**_CHANNEL, "DateUpdated": _date("date_updated")},
    "onChannelDestroyed": {**_CHANNEL, "DateUpdated": _date("date_updated")},
    "onMemberAdded": {**_MEMBER, "Reason": _p("reason"), "DateCreated": _date("date_created")},
    "onMemberUpdated": {
        **_MEMBER,
        "Attributes": _attributes,
        "LastConsumedMessageIndex": _p("last_consumed_message_index"),
        "DateCreated": _date("date_created"),
        "DateUpdated": _date("date_updated"),
    },
    "onMemberRemoved": {
        **_MEMBER,
        "Reason": _p("reason"),
        "DateCreated": _date("date_created"),
        "DateRemoved": _removed,
    },
    "onUserAdded": {**_USER, "DateCreated": _date("date_created")},
    "onUserUpdated": {
        **_USER,
        "IsOnline": _p("is_online"),
        "IsNotifiable": _p("is_notifiable"),
        "DateCreated": _date("date_created"),
        "DateUpdated": _date("date_updated"),
    },
}

# onUserUpdated's IsOnline / IsNotifiable are stored as 0/1
_BOOLEANS = frozenset({"IsOnline", "IsNotifiable"})


def _text(name: str, value: Any) -> str:
    if isinstance(value, bool) or (name in _BOOLEANS and isinstance(value, int)):
        return "true" if value else "false"
    return str(value)


def for_event(event: Event, retry_count: int = 0) -> Params:
    """The post-event parameters of ``event`` for attempt ``retry_count``."""
    getters = EVENT_PARAMS.get(event.kind)
    if getters is None:
        raise KeyError(f"{event.kind} is not a post-event webhook")
    params: Params = {
        "EventType": event.kind,
        "AccountSid": event.account_sid,
    }
    if event.service_sid is not None:
        params["InstanceSid"] = event.service_sid
    params["Source"] = "SDK" if event.source == "sdk" else "API"
    if event.source == "sdk" and event.identity is not None:
        params["ClientIdentity"] = event.identity
    for name, get in getters.items():
        value = get(event)
        if value is not None:
            params[name] = _text(name, value)
    params["RetryCount"] = str(retry_count)
    return params


def common(
    kind: str,
    account_sid: str,
    service_sid: str,
    source: str,
    identity: str | None,
    retry_count: int = 0,
) -> Params:
    """The parameters of every event alone (docs/behaviour.md §W3.1); pre-events
    build the rest from the request."""
    params: Params = {"EventType": kind, "AccountSid": account_sid, "InstanceSid": service_sid}
    params["Source"] = "SDK" if source == "sdk" else "API"
    if source == "sdk" and identity is not None:
        params["ClientIdentity"] = identity
    params["RetryCount"] = str(retry_count)
    return params
