"""Chat writes for the real-time tests, made through the REST API with the
official SDK: the same domain write path a deployment uses."""

from typing import Any

from twilio.rest import Client


def _svc(client: Client, service_sid: str) -> Any:
    return client.chat.v2.services(service_sid)


def user(client: Client, service_sid: str, identity: str) -> dict[str, str]:
    """The user of that identity (a connected client has created it already)."""
    found = _svc(client, service_sid).users(identity).fetch()
    return {"sid": found.sid, "identity": found.identity}


def channel(client: Client, service_sid: str, **values: Any) -> dict[str, str]:
    made = _svc(client, service_sid).channels.create(friendly_name="general", **values)
    return {"sid": made.sid}


def member(client: Client, service_sid: str, channel_sid: str, identity: str) -> str:
    made = _svc(client, service_sid).channels(channel_sid).members.create(identity=identity)
    return str(made.sid)


def message(
    client: Client, service_sid: str, channel_sid: str, author: str, body: str
) -> dict[str, Any]:
    made = _svc(client, service_sid).channels(channel_sid).messages.create(from_=author, body=body)
    return {"sid": made.sid, "index": made.index}


def edit_message(client: Client, service_sid: str, channel_sid: str, sid: str, body: str) -> None:
    _svc(client, service_sid).channels(channel_sid).messages(sid).update(body=body)


def remove_message(client: Client, service_sid: str, channel_sid: str, sid: str) -> None:
    _svc(client, service_sid).channels(channel_sid).messages(sid).delete()
