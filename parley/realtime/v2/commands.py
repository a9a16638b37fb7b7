"""The 21 session commands of twilio-chat 2.x-4.x, each mapped onto version
1's client endpoints (docs/realtime-protocol.md §9.4): which calls a command
makes, and the ``response`` fields the SDK reads from their results.

A plan is built from the command's own parameters only; the calls themselves
(dispatch.call) decide everything else, so a refused or invalid command gets
exactly the status and code a 5.x/6.x client would.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from parley.domain import channels
from parley.errors import TwilioError, missing
from parley.realtime.chat.context import Ctx
from parley.realtime.v2.dispatch import base, part
from parley.store import Row, repo
from parley.sync import names

Params = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Call:
    """One version 1 request: method, path, JSON body."""

    method: str
    path: str
    body: dict[str, Any] | None = None


Answer = Callable[[list[Any]], dict[str, Any]]


def _nothing(results: list[Any]) -> dict[str, Any]:
    return {}


@dataclass(slots=True)
class Plan:
    """The calls of one command and how their action results become the
    command's response fields. ``each``: the calls are independent (a
    consumption report's entries), so one refused call leaves the others."""

    calls: list[Call]
    answer: Answer = _nothing
    each: bool = False
    results: list[Any] = field(default_factory=list)


def _text(params: Params, name: str) -> str:
    value = params.get(name)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value:
        raise missing(name)
    return value


def _fields(params: Params, names_: Mapping[str, str]) -> dict[str, Any]:
    """The command's camelCase fields present, as version 1's snake_case ones
    (a JSON ``null`` clears, as in version 1)."""
    return {wire: params[name] for name, wire in names_.items() if name in params}


async def _message_sid(ctx: Ctx, channel_key: str, index: Any) -> str:
    """The SID of the channel's message at ``index`` (the commands name
    messages by index, version 1 by SID). Unresolved, the index itself is
    passed on, and version 1 answers for it (50300 for the channel, 20404)."""
    text = str(index)
    if not text.isdigit():
        raise TwilioError(20001, name="messageIdx")
    async with ctx.store.read() as tx:
        service = await ctx.service(tx)
        channel = await channels.find(tx, service, channel_key)
        if channel is None:
            return text
        found = await repo.get(tx, "messages", {"channel_sid": channel["sid"], "idx": int(text)})
    return found["sid"] if found is not None else text


def _channel_answer(results: list[Any]) -> dict[str, Any]:
    channel: Row = results[-1]
    return {"channelSid": channel["sid"], "channel": names.channel_doc(channel["sid"])}


def _message_answer(results: list[Any]) -> dict[str, Any]:
    message: Row = results[-1]
    return {"messageId": message["idx"]}


def _report_answer(results: list[Any]) -> dict[str, Any]:
    return {
        "report": [
            {
                "channelSid": row["channel_sid"],
                "unreadMessagesCount": row.get("unread_messages_count"),
            }
            for row in results
            if isinstance(row, dict)
        ]
    }


CHANNEL_FIELDS = {
    "friendlyName": "friendly_name",
    "uniqueName": "unique_name",
    "type": "type",
    "attributes": "attributes",
}


async def plan(ctx: Ctx, action: str, params: Params) -> Plan:
    """The calls for ``action``; 20001 for an unknown action or a missing
    parameter (the command is answered with it, §9.7)."""
    b = base(ctx.service_sid)
    me = part(ctx.identity)

    def channel() -> str:
        return f"{b}/Conversations/{part(_text(params, 'channelSid'))}"

    if action == "createChannel":
        fields = {k: v for k, v in _fields(params, CHANNEL_FIELDS).items() if v is not None}
        return Plan([Call("POST", f"{b}/Conversations", fields)], _channel_answer)
    if action == "destroyChannel":
        return Plan([Call("DELETE", channel())])
    if action in ("editFriendlyName", "editUniqueName", "editAttributes"):
        name = {"editFriendlyName": "friendlyName", "editUniqueName": "uniqueName"}.get(
            action, "attributes"
        )
        if name not in params:
            raise missing(name)
        return Plan([Call("POST", channel(), _fields(params, {name: CHANNEL_FIELDS[name]}))])
    if action == "joinChannelV2":
        key = _text(params, "channelSid")
        path = f"{channel()}/Participants"
        return Plan([Call("POST", path, {"identity": ctx.identity})], lambda _: {"channelSid": key})
    if action == "leaveChannel":
        return Plan([Call("DELETE", f"{channel()}/Participants/{me}")])
    if action == "addMemberV2":
        body = {"identity": _text(params, "username")}
        return Plan([Call("POST", f"{channel()}/Participants", body)])
    if action == "inviteMember":
        return Plan([Call("POST", f"{channel()}/Invites", {"identity": _text(params, "username")})])
    if action == "removeMember":
        who = params.get("memberSid") or _text(params, "username")
        return Plan([Call("DELETE", f"{channel()}/Participants/{part(str(who))}")])
    if action == "declineInvitation":
        return Plan([Call("DELETE", f"{channel()}/Invites/{me}")])
    if action == "editMemberAttributes":
        path = f"{channel()}/Participants/{part(_text(params, 'memberSid'))}"
        return Plan([Call("POST", path, _fields(params, {"attributes": "attributes"}))])
    if action in ("sendMessage", "sendMediaMessage"):
        wire = {"text": "body", "attributes": "attributes"}
        if action == "sendMediaMessage":
            wire = {"mediaSid": "media_sid", "attributes": "attributes"}
            _text(params, "mediaSid")
        body = {k: v for k, v in _fields(params, wire).items() if v is not None}
        return Plan([Call("POST", f"{channel()}/Messages", body)], _message_answer)
    if action in ("editMessage", "editMessageAttributes", "deleteMessage"):
        key = _text(params, "channelSid")
        sid = await _message_sid(ctx, key, _text(params, "messageIdx"))
        path = f"{channel()}/Messages/{part(sid)}"
        if action == "deleteMessage":
            return Plan([Call("DELETE", path)])
        if action == "editMessage":
            return Plan([Call("POST", path, {"body": _text(params, "text")})])
        if "attributes" not in params:
            raise missing("attributes")
        return Plan([Call("POST", path, _fields(params, {"attributes": "attributes"}))])
    if action == "editNotificationLevel":
        key = part(_text(params, "channelSid"))
        body = {"notification_level": _text(params, "notificationLevel")}
        return Plan([Call("POST", f"{b}/Users/{me}/Conversations/{key}", body)])
    if action == "consumptionReportV2":
        report = params.get("report")
        if not isinstance(report, list) or not all(isinstance(e, dict) for e in report):
            raise TwilioError(20001, name="report")
        calls = [
            Call(
                "POST",
                f"{b}/Users/{me}/Conversations/{part(_text(entry, 'channelSid'))}",
                {"last_consumed_message_index": entry.get("messageIdx")},
            )
            for entry in report
        ]
        return Plan(calls, _report_answer, each=True)
    if action in ("editUserFriendlyName", "editUserAttributes"):
        name = "friendlyName" if action == "editUserFriendlyName" else "attributes"
        if name not in params:
            raise missing(name)
        path = f"{b}/Users/{part(_text(params, 'username'))}"
        wire = {"friendlyName": "friendly_name", "attributes": "attributes"}
        return Plan([Call("POST", path, _fields(params, {name: wire[name]}))])
    raise TwilioError(20001, message=f"Unknown session command action {action!r}")
