"""``POST /parley/v1/simulate/…``: what a connected client of identity X would
do, for tests that have no client SDK (docs/testing.md "Simulated clients").

::

    simulate/message     {service_sid, identity, channel, body?, attributes?, media_sid?}
                         -> the client action sendMessage, by name
    simulate/typing      {service_sid, identity, channel}
                         -> chat.users.start_typing      (the tunnelled Typing's action)
    simulate/connect     {service_sid, identity}         -> chat.reachability.connect
    simulate/disconnect  {service_sid, identity}         -> chat.reachability.disconnect

Each runs the real-time client API's own action with a ``Ctx`` built for that
identity instead of a socket's: the same role checks (50107 / 50400), the same
pre-event webhook (a rejection is 403 / 20403, nothing stored), post-event
webhooks with ``Source=SDK`` and ``ClientIdentity``, the Sync view, typing
pushed to connected sockets, and reachability. ``routes`` lists them for the
app's lifespan, which passes them to the control plane. Authenticated with the
account's credentials like the rest of the control plane, so ``service_sid``
must be one of its services.
"""

from typing import Any

import orjson

from parley import sids
from parley.api.messages import MESSAGE
from parley.control.http import ControlPlane, Route
from parley.domain import services
from parley.errors import TwilioError, missing
from parley.realtime.chat import users
from parley.realtime.chat.actions import Actions
from parley.realtime.chat.context import Ctx
from parley.realtime.chat.reachability import Reachability
from parley.runtime import Runtime

MESSAGE_FIELDS = {"body", "attributes", "media_sid"}


def _json(body: bytes, allowed: set[str]) -> dict[str, Any]:
    try:
        data = orjson.loads(body or b"{}")
    except orjson.JSONDecodeError:
        raise TwilioError(20001, message="The body is a JSON object") from None
    if not isinstance(data, dict):
        raise TwilioError(20001, message="The body is a JSON object")
    unknown = set(data) - allowed - {"service_sid", "identity"}
    if unknown:
        raise TwilioError(20001, message=f"Unknown keys {sorted(unknown)}")
    for name in ("service_sid", "identity"):
        if not isinstance(data.get(name), str) or not data[name]:
            raise missing(name)
    return data


class Simulator:
    def __init__(self, runtime: Runtime, actions: Actions, reachability: Reachability) -> None:
        self.runtime = runtime
        self.actions = actions
        self.reachability = reachability

    async def _service(self, account: str | None, data: dict[str, Any]) -> services.Service:
        if account is None:
            raise TwilioError(20001, message="Simulations are per account: use its credentials")
        sid = data["service_sid"]
        service = None
        if sids.looks_like(sids.SERVICE, sid):
            async with self.runtime.store.read() as tx:
                service = await services.by_sid(tx, sids.normalise(sid))
        if service is None or service["account_sid"] != account:
            raise TwilioError(20404, path=f"/Services/{sid}")
        return service

    async def _ctx(self, account: str | None, data: dict[str, Any]) -> Ctx:
        service = await self._service(account, data)
        return Ctx.acting(self.runtime, service["account_sid"], service["sid"], data["identity"])

    @staticmethod
    def _channel(data: dict[str, Any]) -> str:
        channel = data.get("channel")
        if not isinstance(channel, str) or not channel:
            raise missing("channel")
        return channel

    async def message(self, _: ControlPlane, account: str | None, request: Any) -> Any:
        data = _json(request["body"], MESSAGE_FIELDS | {"channel"})
        ctx = await self._ctx(account, data)
        fields = {k: v for k, v in data.items() if k in MESSAGE_FIELDS}
        if isinstance(fields.get("attributes"), dict | list):  # a mapping: its JSON text
            fields["attributes"] = orjson.dumps(fields["attributes"]).decode()
        row = await self.actions.perform(
            "sendMessage", ctx, {"channel": self._channel(data)}, fields
        )
        return MESSAGE.render(row, self.runtime.base_url)

    async def typing(self, _: ControlPlane, account: str | None, request: Any) -> Any:
        data = _json(request["body"], {"channel"})
        ctx = await self._ctx(account, data)
        timeout = await users.start_typing(ctx, self._channel(data))
        return {"typing_timeout": timeout}

    async def connect(self, _: ControlPlane, account: str | None, request: Any) -> Any:
        data = _json(request["body"], set())
        service = await self._service(account, data)
        count = await self.reachability.connect(service, data["identity"])
        return {"identity": data["identity"], "connections": count}

    async def disconnect(self, _: ControlPlane, account: str | None, request: Any) -> Any:
        data = _json(request["body"], set())
        service = await self._service(account, data)
        count = await self.reachability.disconnect(service, data["identity"])
        return {"identity": data["identity"], "connections": count}


def routes(runtime: Runtime, actions: Actions, reachability: Reachability) -> list[Route]:
    simulator = Simulator(runtime, actions, reachability)
    return [
        ("POST", "simulate/message", simulator.message),
        ("POST", "simulate/typing", simulator.typing),
        ("POST", "simulate/connect", simulator.connect),
        ("POST", "simulate/disconnect", simulator.disconnect),
    ]
