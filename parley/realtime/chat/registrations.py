"""Push registrations from the client SDK (@twilio/notifications' registrar,
docs/realtime-protocol.md §7.4 "Push"): tunnelled ``POST/DELETE …/v1/registrations``
become Bindings through ``domain.bindings`` (docs/behaviour.md §P3).

The binding's endpoint is the token's ``endpoint_id`` when it has one, else the
device's registration id (docs/behaviour.md §P3: "built from the token's
endpoint_id or an SDK-generated id"); pushes go to the registration id (the
binding's address, docs/push.md); its credential is the token's
``push_credential_sid``.
"""

from typing import Any

from parley.domain import bindings
from parley.errors import TwilioError, invalid
from parley.realtime.chat.context import Ctx
from parley.realtime.tunnel import Request, Response, Routes
from parley.store import Tx

PREFIX = "twilio.channel."  # the SDK's message types (twilio-chat notificationtypes.ts)


def _types(values: Any) -> list[str] | None:
    if not isinstance(values, list):
        return None
    wanted = [str(v).removeprefix(PREFIX) for v in values]
    # consumption_update and unknown types have no binding counterpart
    return [t for t in bindings.MESSAGE_TYPES if t in wanted]


async def register(request: Request) -> Response:
    ctx = Ctx.of(request)
    body: dict[str, Any] = request.body if isinstance(request.body, dict) else {}
    grant = request.session.grant
    assert grant is not None
    data = body.get("data")
    registration_id = str(data.get("registration_id") or "") if isinstance(data, dict) else ""
    binding_type = str(body.get("channel_type") or "")
    if not registration_id:
        raise invalid("registration_id")
    endpoint = grant.endpoint_id or registration_id

    async with ctx.store.write() as tx:
        row = await bindings.register(
            tx,
            await ctx.service(tx),
            ctx.identity,
            endpoint,
            binding_type,
            ctx.origin,
            credential_sid=grant.push_credential_sid,
            message_types=_types(body.get("message_types")),
            address=registration_id,
        )
    return Response(200, {"id": row["sid"], "binding_sid": row["sid"]})


async def _mine(tx: Tx, ctx: Ctx, sid: str) -> bindings.BindingRow:
    row = await bindings.by_sid(tx, sid, ctx.service_sid)
    if row is None or row["identity"] != ctx.identity:
        raise TwilioError(20404, path=f"/v1/registrations/{sid}")
    return row


async def remove(request: Request) -> Response:
    ctx = Ctx.of(request)
    async with ctx.store.write() as tx:
        await bindings.delete(tx, await _mine(tx, ctx, request.path_params["id"]), ctx.origin)
    return Response(204)


async def remove_device(request: Request) -> Response:
    """``DELETE …/v1/registrations {binding_type, address}``: the SDK clearing a
    device's old registrations."""
    ctx = Ctx.of(request)
    grant = request.session.grant
    assert grant is not None
    body: dict[str, Any] = request.body if isinstance(request.body, dict) else {}
    endpoints = {str(body.get("address") or ""), grant.endpoint_id or ""} - {""}
    async with ctx.store.write() as tx:
        for row in await bindings.of_identity(tx, ctx.service_sid, ctx.identity):
            if row["endpoint"] in endpoints and row["binding_type"] == body.get("binding_type"):
                await bindings.delete(tx, row, ctx.origin)
    return Response(204)


def register_routes(routes: Routes) -> None:
    routes.add("POST", "/v1/registrations", register)
    routes.add("DELETE", "/v1/registrations", remove_device)
    routes.add("DELETE", "/v1/registrations/{id}", remove)
