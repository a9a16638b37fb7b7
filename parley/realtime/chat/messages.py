"""Send, edit and delete messages from a client: three declared actions."""

from collections.abc import Mapping
from typing import Any, cast

from parley.api import messages as messages_api
from parley.domain import messages, services
from parley.errors import TwilioError
from parley.realtime.chat import shapes
from parley.realtime.chat.actions import Args, ClientAction, Target, Values, perform
from parley.realtime.chat.channels import in_channel
from parley.realtime.chat.context import Ctx
from parley.realtime.chat.guard import own_or_any
from parley.realtime.tunnel import Request, Response, Routes
from parley.store import Row, Tx

FIELDS = {"body": "Body", "attributes": "Attributes", "media_sid": "MediaSid"}


async def _with_message(tx: Tx, ctx: Ctx, args: Args) -> Target:
    target = await in_channel(tx, ctx, args)
    found = await messages.by_sid_in(tx, target.channel_row["sid"], args["message"])
    if found is None:
        raise TwilioError(20404, path=args["message"])
    target.subject = found
    return target


def _text(values: Values) -> dict[str, str]:
    """Body and attributes as a pre-event reports them (when given)."""
    pre = {}
    if values.get("body") is not None:
        pre["Body"] = str(values["body"])
    if values.get("attributes") is not None:
        pre["Attributes"] = str(values["attributes"])
    return pre


def _media(values: Values) -> bool:
    return values.get("media_sid") is not None


def _row(service: services.Service) -> Row:
    """The service as domain/messages.py takes it: an untyped row, until that
    module takes the owners' typed rows."""
    return cast(Row, service)


def _send_pre(ctx: Ctx, target: Target, values: Values) -> dict[str, str]:
    pre = {"ChannelSid": target.channel_row["sid"], "From": ctx.identity, **_text(values)}
    if _media(values):
        pre["MediaSid"] = str(values["media_sid"])
    return pre


async def _send(tx: Tx, ctx: Ctx, target: Target, values: Values) -> Row:
    final = {k: v for k, v in values.items() if k != "author"}
    final["author"] = ctx.identity  # ``From`` is the caller
    return await messages.create(tx, _row(target.service), target.channel_row, final, ctx.origin)


SEND = ClientAction(
    name="sendMessage",
    params=messages_api.CREATE,
    fields=FIELDS,
    resolve=in_channel,
    permissions=lambda ctx, t, values: [
        ("sendMediaMessage",) if _media(values) else ("sendMessage",)
    ],
    pre_event=lambda values: "onMediaMessageSend" if _media(values) else "onMessageSend",
    pre_params=_send_pre,
    run=_send,
)


def _edit_permissions(ctx: Ctx, target: Target, values: Values) -> list[tuple[str, ...]]:
    own = target.subject_row.get("author") == ctx.identity
    wanted: list[tuple[str, ...]] = []
    if "body" in values:
        wanted.append(own_or_any(own, "editOwnMessage", "editAnyMessage"))
    if "attributes" in values:
        wanted.append(own_or_any(own, "editOwnMessageAttributes", "editAnyMessageAttributes"))
    return wanted


async def _edit(tx: Tx, ctx: Ctx, target: Target, values: Values) -> Row:
    final = {**values, "last_updated_by": ctx.identity}
    return await messages.update(
        tx, _row(target.service), target.channel_row, target.subject_row, final, ctx.origin
    )


EDIT = ClientAction(
    name="updateMessage",
    params=messages_api.UPDATE,
    fields=FIELDS,
    resolve=_with_message,
    permissions=_edit_permissions,
    pre_event=lambda values: "onMessageUpdate",
    pre_params=lambda ctx, t, values: {
        "ChannelSid": t.channel_row["sid"],
        "MessageSid": t.subject_row["sid"],
        "ModifiedBy": ctx.identity,
        **_text(values),
    },
    run=_edit,
)


async def _remove(tx: Tx, ctx: Ctx, target: Target, values: Values) -> None:
    await messages.remove(
        tx, _row(target.service), target.channel_row, target.subject_row, ctx.origin
    )


REMOVE = ClientAction(
    name="removeMessage",
    resolve=_with_message,
    permissions=lambda ctx, t, values: [
        own_or_any(
            t.subject_row.get("author") == ctx.identity, "deleteOwnMessage", "deleteAnyMessage"
        )
    ],
    pre_event=lambda values: "onMessageRemove",
    pre_params=lambda ctx, t, values: {
        "ChannelSid": t.channel_row["sid"],
        "MessageSid": t.subject_row["sid"],
    },
    run=_remove,
)

ACTIONS = (SEND, EDIT, REMOVE)


async def send_message(ctx: Ctx, key: str, body: Mapping[str, Any]) -> Row:
    """sendMessage for ``ctx``'s identity in channel ``key`` (the tunnelled
    endpoint's action, and ``POST /parley/v1/simulate/message``'s)."""
    return await perform(SEND, ctx, {"channel": key}, body)


async def send(request: Request) -> Response:
    ctx = Ctx.of(request)
    row = await send_message(ctx, request.path_params["channel"], request.form())
    return Response(201, shapes.message(ctx, row))


async def edit(request: Request) -> Response:
    ctx = Ctx.of(request)
    row = await perform(EDIT, ctx, request.path_params, request.form())
    return Response(200, shapes.message(ctx, row))


async def delete(request: Request) -> Response:
    await perform(REMOVE, Ctx.of(request), request.path_params)
    return Response(204)


def register(routes: Routes) -> None:
    base = "/Client/v1/Services/{service}/Conversations/{channel}/Messages"
    routes.add("POST", base, send)
    routes.add("POST", base + "/{message}", edit)
    routes.add("DELETE", base + "/{message}", delete)
