"""The 21 session commands of twilio-chat 2.x-4.x, each mapped onto the
client actions version 1's endpoints run (docs/realtime-protocol.md §9.4):
which actions a command performs, by name, with which arguments, and the
``response`` fields the SDK reads from their results.

A plan is built from the command's own parameters only; the actions
themselves (``Actions.perform``) decide everything else, so a refused or
invalid command gets exactly the status and code a 5.x/6.x client would.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from parley.domain import channels, messages
from parley.errors import TwilioError, missing
from parley.realtime.chat.context import Ctx
from parley.store import Row
from parley.sync import names

Params = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Call:
    """One client action: its name, its arguments (the rows its version 1
    path names: ``channel``, ``member``, ``message``, ``identity``), its body."""

    action: str
    args: dict[str, str]
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
        found = await messages.at_index(tx, channel["sid"], int(text))
    return found["sid"] if found is not None else text


def _channel_answer(results: list[Any]) -> dict[str, Any]:
    channel: channels.ChannelRow = results[-1]
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
    me = ctx.identity

    def channel(**more: str) -> dict[str, str]:
        return {"channel": _text(params, "channelSid"), **more}

    if action == "createChannel":
        fields = {k: v for k, v in _fields(params, CHANNEL_FIELDS).items() if v is not None}
        return Plan([Call("createChannel", {}, fields)], _channel_answer)
    if action == "destroyChannel":
        return Plan([Call("destroyChannel", channel())])
    if action in ("editFriendlyName", "editUniqueName", "editAttributes"):
        name = {"editFriendlyName": "friendlyName", "editUniqueName": "uniqueName"}.get(
            action, "attributes"
        )
        if name not in params:
            raise missing(name)
        body = _fields(params, {name: CHANNEL_FIELDS[name]})
        return Plan([Call("updateChannel", channel(), body)])
    if action == "joinChannelV2":
        args = channel()
        answer = {"channelSid": args["channel"]}
        return Plan([Call("addMember", args, {"identity": me})], lambda _: answer)
    if action == "leaveChannel":
        return Plan([Call("removeMember", channel(member=me))])
    if action == "addMemberV2":
        return Plan([Call("addMember", channel(), {"identity": _text(params, "username")})])
    if action == "inviteMember":
        return Plan([Call("inviteMember", channel(), {"identity": _text(params, "username")})])
    if action == "removeMember":
        who = params.get("memberSid") or _text(params, "username")
        return Plan([Call("removeMember", channel(member=str(who)))])
    if action == "declineInvitation":
        return Plan([Call("declineInvite", channel())])
    if action == "editMemberAttributes":
        args = channel(member=_text(params, "memberSid"))
        return Plan([Call("updateMember", args, _fields(params, {"attributes": "attributes"}))])
    if action in ("sendMessage", "sendMediaMessage"):
        wire = {"text": "body", "attributes": "attributes"}
        if action == "sendMediaMessage":
            wire = {"mediaSid": "media_sid", "attributes": "attributes"}
            _text(params, "mediaSid")
        body = {k: v for k, v in _fields(params, wire).items() if v is not None}
        return Plan([Call("sendMessage", channel(), body)], _message_answer)
    if action in ("editMessage", "editMessageAttributes", "deleteMessage"):
        key = _text(params, "channelSid")
        args = channel(message=await _message_sid(ctx, key, _text(params, "messageIdx")))
        if action == "deleteMessage":
            return Plan([Call("removeMessage", args)])
        if action == "editMessage":
            return Plan([Call("updateMessage", args, {"body": _text(params, "text")})])
        if "attributes" not in params:
            raise missing("attributes")
        return Plan([Call("updateMessage", args, _fields(params, {"attributes": "attributes"}))])
    if action == "editNotificationLevel":
        body = {"notification_level": _text(params, "notificationLevel")}
        return Plan([Call("updateUserChannel", channel(identity=me), body)])
    if action == "consumptionReportV2":
        report = params.get("report")
        if not isinstance(report, list) or not all(isinstance(e, dict) for e in report):
            raise TwilioError(20001, name="report")
        calls = [
            Call(
                "updateUserChannel",
                {"channel": _text(entry, "channelSid"), "identity": me},
                {"last_consumed_message_index": entry.get("messageIdx")},
            )
            for entry in report
        ]
        return Plan(calls, _report_answer, each=True)
    if action in ("editUserFriendlyName", "editUserAttributes"):
        name = "friendlyName" if action == "editUserFriendlyName" else "attributes"
        if name not in params:
            raise missing(name)
        wire = {"friendlyName": "friendly_name", "attributes": "attributes"}
        args = {"identity": _text(params, "username")}
        return Plan([Call("updateUser", args, _fields(params, {name: wire[name]}))])
    raise TwilioError(20001, message=f"Unknown session command action {action!r}")
