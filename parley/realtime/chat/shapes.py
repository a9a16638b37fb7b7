"""Response bodies of the client endpoints (docs/realtime-protocol.md §6-§7; field names
from twilio-chat@6.0.0 channeldescriptor.ts, userdescriptor.ts, configuration.ts)."""

from typing import Any

from parley import timefmt
from parley.domain import channels, services, users
from parley.realtime.chat.context import Ctx
from parley.store import Row
from parley.sync import names


def channel(ctx: Ctx, row: channels.ChannelRow, mine: Row | None = None) -> dict[str, Any]:
    sid = row["sid"]
    url = ctx.conversation_url(sid)
    return {
        "sid": sid,
        "conversation_sid": sid,
        "account_sid": row["account_sid"],
        "service_sid": row["service_sid"],
        "unique_name": row.get("unique_name"),
        "friendly_name": row.get("friendly_name"),
        "attributes": row.get("attributes") or "{}",
        "created_by": row.get("created_by"),
        "date_created": timefmt.to_twilio(row.get("date_created")),
        "date_updated": timefmt.to_twilio(row.get("date_updated") or row.get("date_created")),
        "messages_count": row.get("messages_count", 0),
        "participants_count": row.get("members_count", 0),
        "type": row.get("type"),
        "status": (mine or {}).get("status", "notParticipating"),
        "last_consumed_message_index": (mine or {}).get("last_consumed_message_index"),
        "notification_level": (mine or {}).get("notification_level"),
        "url": url,
        "links": {
            "self": url,
            "participants": url + "/Participants",
            "messages": url + "/Messages",
            "invites": url + "/Invites",
        },
        "sync_objects": {"conversation": names.channel_doc(sid), "messages": names.messages(sid)},
    }


def my_channel(ctx: Ctx, user_channel: Row) -> dict[str, Any]:
    sid = user_channel["channel_sid"]
    return {
        "conversation_sid": sid,
        "channel_sid": sid,
        "status": user_channel["status"],
        "unread_messages_count": user_channel.get("unread_messages_count"),
        "last_consumed_message_index": user_channel.get("last_consumed_message_index"),
        "notification_level": user_channel.get("notification_level") or "default",
        "sync_objects": {"conversation": names.channel_doc(sid), "messages": names.messages(sid)},
        "url": f"{ctx.my_conversations}/{sid}",
    }


def user(ctx: Ctx, row: users.UserRow, service: services.Service) -> dict[str, Any]:
    reachable = bool(service.get("reachability_enabled"))

    def flag(value: Any) -> bool | None:
        return None if not reachable or value is None else bool(value)

    return {
        "sid": row["sid"],
        "identity": row["identity"],
        "friendly_name": row.get("friendly_name"),
        "attributes": row.get("attributes") or "{}",
        "is_online": flag(row.get("is_online")),
        "is_notifiable": flag(row.get("is_notifiable")),
        "date_created": timefmt.to_twilio(row.get("date_created")),
        "date_updated": timefmt.to_twilio(row.get("date_updated") or row.get("date_created")),
        "sync_objects": {"user_info_map": names.user_info(row["sid"])},
        "sync_unique_name": names.user_info(row["sid"]),
        "links": {"self": ctx.user_url(row["identity"])},
        "url": ctx.user_url(row["identity"]),
    }


def message(ctx: Ctx, row: Row) -> dict[str, Any]:
    url = f"{ctx.conversation_url(row['channel_sid'])}/Messages/{row['sid']}"
    return {
        "sid": row["sid"],
        "index": row["idx"],
        "conversation_sid": row["channel_sid"],
        "author": row.get("author"),
        "body": row.get("body"),
        "attributes": row.get("attributes") or "{}",
        "type": row.get("type"),
        "date_created": timefmt.to_twilio(row.get("date_created")),
        "date_updated": timefmt.to_twilio(row.get("date_updated") or row.get("date_created")),
        "url": url,
        "links": {"self": url},
    }
