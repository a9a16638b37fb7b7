"""What each gateway is sent for one planned push (docs/push.md, "Payloads").

A planned push (``plan``) is gateway-neutral: ``{type, body, sound, badge,
data: {channel_sid, message_sid, message_index, author}}``. The keys below are
the ones the client SDKs read: twilio-chat's ``Client.parsePushNotification``
takes ``aps.alert`` / ``aps.sound`` / ``aps.badge`` and the top-level
``twi_message_type``, ``channel_sid``, ``message_sid``, ``message_index`` of an
APNs payload, and ``data.twi_message_type`` / ``twi_body`` / ``twi_sound`` and
the same three ids of an FCM one. ``channel_id`` and ``message_id`` repeat the
SIDs under the names older mobile SDKs read.
"""

from typing import Any


def _ids(content: dict[str, Any]) -> dict[str, Any]:
    data = content.get("data") or {}
    out: dict[str, Any] = {"twi_message_type": content["type"]}
    if data.get("channel_sid"):
        out["channel_sid"] = out["channel_id"] = data["channel_sid"]
    if data.get("message_sid"):
        out["message_sid"] = out["message_id"] = data["message_sid"]
    if data.get("message_index") is not None:
        out["message_index"] = data["message_index"]
    if data.get("author"):
        out["author"] = data["author"]
    return out


def apns(content: dict[str, Any]) -> dict[str, Any]:
    """The APNs JSON body: an alert with the text, the sound and badge when set."""
    aps: dict[str, Any] = {"alert": content["body"]}
    if content.get("sound"):
        aps["sound"] = content["sound"]
    if content.get("badge") is not None:
        aps["badge"] = content["badge"]
    return {"aps": aps, **_ids(content)}


def fcm_data(content: dict[str, Any]) -> dict[str, str]:
    """The FCM data map (string values only, as FCM requires)."""
    out = {k: str(v) for k, v in _ids(content).items()}
    out["twi_body"] = content["body"]
    if content.get("sound"):
        out["twi_sound"] = content["sound"]
    if content.get("badge") is not None:
        out["twi_badge"] = str(content["badge"])
    return out


def fcm_v1(address: str, content: dict[str, Any]) -> dict[str, Any]:
    """``POST /v1/projects/{id}/messages:send``: a data message, high priority
    (a chat message must wake the app)."""
    return {
        "message": {"token": address, "data": fcm_data(content), "android": {"priority": "high"}}
    }


def fcm_legacy(address: str, content: dict[str, Any]) -> dict[str, Any]:
    """``POST /fcm/send`` (legacy HTTP API, retired by Google in 2024)."""
    return {"to": address, "data": fcm_data(content), "priority": "high"}
