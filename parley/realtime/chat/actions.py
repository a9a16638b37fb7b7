"""Client actions declared like REST operations, and the one runner for all.

A ``ClientAction`` says what a client may ask, the way an ``api.table.Operation``
does for REST: its name (``sendMessage``; the version 1 endpoints and any other
protocol call actions by name through ``perform``), its parameters (the same
``Param`` table as REST, so the same limits and error codes), how it finds the
rows it acts on, the permissions it needs, its pre-event webhook, and the
domain function that does it::

    perform(action, ctx, args, body):
      decode body with the Param table                  -> 400 as REST
      the service wants the pre-event?
        yes: read tx: resolve rows, check roles, pre-event parameters
             pre-event webhook -> reject (20403) | replacements (validated like the body)
      write tx: resolve rows, check roles, run the domain action -> result
                (and ctx.within(tx, result), if the caller gave one)
      the commit's Sync events -> the caller's own session, then the reply

Rows are resolved once per transaction: once in all when no pre-event is
wanted, and again in the write when a webhook call came between (the rows
may have changed meanwhile). Domain rules (who may join, which role applies)
live in ``parley.domain``; an action only names them.
"""

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from parley.api.table import Param
from parley.domain import services, users
from parley.domain.members import MemberRow
from parley.errors import TwilioError
from parley.realtime.chat import guard
from parley.realtime.chat.context import Ctx, decode, replace
from parley.store import Row, Tx
from parley.webhooks import params as hook_params
from parley.webhooks import prehook

T = TypeVar("T")


@dataclass(slots=True)
class Target:
    """The rows one action acts on, resolved in the transaction that uses them."""

    service: services.Service
    user: users.UserRow  # the caller
    channel: Row | None = None
    member: MemberRow | None = None  # the caller's membership of ``channel``
    subject: Row | None = None  # the message, member or user the action names

    @property
    def channel_row(self) -> Row:
        assert self.channel is not None
        return self.channel

    @property
    def subject_row(self) -> Row:
        assert self.subject is not None
        return self.subject


Values = dict[str, Any]
Args = Mapping[str, str]  # the action's path arguments (channel, message, member, identity)
Resolve = Callable[[Tx, Ctx, Args], Awaitable[Target]]
# the permissions the caller needs: each entry a tuple of alternatives
Permissions = Callable[[Ctx, Target, Values], Iterable[tuple[str, ...]]]
# extra refusals that are not roles (already a member, no such user, ...)
Refuse = Callable[[Tx, Ctx, Target, Values], Awaitable[None]]
PreEventName = Callable[[Values], str]
PreEventParams = Callable[[Ctx, Target, Values], Mapping[str, str]]
Run = Callable[[Tx, Ctx, Target, Values], Awaitable[T]]


async def _refuse_nothing(tx: Tx, ctx: Ctx, target: Target, values: Values) -> None:
    return None


@dataclass(frozen=True, slots=True)
class ClientAction(Generic[T]):
    name: str
    resolve: Resolve
    run: Run[T]
    params: Sequence[Param] = ()
    fields: Mapping[str, str] = field(default_factory=dict)  # client field -> Param name
    permissions: Permissions = lambda ctx, target, values: ()
    refuse: Refuse = _refuse_nothing
    pre_event: PreEventName | None = None
    pre_params: PreEventParams = lambda ctx, target, values: {}
    # the fields a pre-event's answer may replace, validated with this table
    # (None: the body's own); ``{}``: none
    replace_params: Sequence[Param] | None = None
    replace_fields: Mapping[str, str] | None = None
    # replacement keys beyond those (camelCase -> column), taken as given:
    # the domain action validates them (a member's roleSid)
    extra_replacements: Mapping[str, str] = field(default_factory=dict)

    def replaced(self, values: Values, replacements: Mapping[str, str]) -> Values:
        """The action's values after a pre-event's replacements."""
        fields = self.fields if self.replace_fields is None else self.replace_fields
        table = self.params if self.replace_params is None else self.replace_params
        out = replace(values, replacements, table, fields) if fields else dict(values)
        for key, column in self.extra_replacements.items():
            if key in replacements:
                out[column] = replacements[key]
        return out


async def _checked(
    tx: Tx, action: ClientAction[Any], ctx: Ctx, args: Args, asked: Values
) -> Target:
    target = await action.resolve(tx, ctx, args)
    await action.refuse(tx, ctx, target, asked)
    for alternatives in action.permissions(ctx, target, asked):
        await guard.require_one(tx, alternatives, target.user, target.member)
    return target


async def perform(
    action: ClientAction[T], ctx: Ctx, args: Args, body: Mapping[str, Any] | None = None
) -> T:
    """Run a client action for ``ctx``'s identity (see the module's diagram)."""
    asked = decode(body or {}, action.params, action.fields)
    values = asked
    if action.pre_event is not None:
        values = await _pre_event(action, action.pre_event(asked), ctx, args, asked)
    async with ctx.store.write() as tx:
        target = await _checked(tx, action, ctx, args, asked)
        result = await action.run(tx, ctx, target, values)
        if ctx.within is not None:
            await ctx.within(tx, result)
    if ctx.own_events is not None:
        # the caller's own Sync events go before its reply (docs/realtime-protocol.md §6.3)
        await ctx.own_events(tx.events)
    return result


async def _pre_event(
    action: ClientAction[Any], event: str, ctx: Ctx, args: Args, asked: Values
) -> Values:
    """Ask the service's pre-event webhook, when it wants this event; the
    values to act with (its replacements applied)."""
    async with ctx.store.read() as tx:
        service = await ctx.service(tx)
        if not prehook.wanted(service, event):
            return asked
        target = await _checked(tx, action, ctx, args, asked)
        own = action.pre_params(ctx, target, asked)
    common = hook_params.common(event, ctx.account_sid, ctx.service_sid, "sdk", ctx.identity)
    decision = await ctx.runtime.prehooks.call(service, event, {**common, **own})
    if not decision.allowed:
        # docs/behaviour.md, "Pre-event webhooks for client actions"
        raise TwilioError(20403, message=f"Action rejected by the {event} pre-event webhook")
    return action.replaced(asked, decision.replacements)


class Actions:
    """Client actions by name: the version 1 endpoints and other protocol
    adaptors dispatch through it."""

    def __init__(self, actions: Iterable[ClientAction[Any]]) -> None:
        self._by_name: dict[str, ClientAction[Any]] = {}
        for action in actions:
            if action.name in self._by_name:
                raise ValueError(f"two client actions named {action.name}")
            self._by_name[action.name] = action

    def __getitem__(self, name: str) -> ClientAction[Any]:
        return self._by_name[name]

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    @property
    def names(self) -> list[str]:
        return sorted(self._by_name)

    async def perform(
        self, name: str, ctx: Ctx, args: Args, body: Mapping[str, Any] | None = None
    ) -> Any:
        return await perform(self._by_name[name], ctx, args, body)


# ------------------------------------------------------------------ resolving


async def caller(tx: Tx, ctx: Ctx, args: Args) -> Target:
    """The service and the caller."""
    return Target(await ctx.service(tx), await ctx.user(tx))
