"""What every client endpoint needs: who calls, in which service, the URLs
Parley hands out, input decoding with the REST parameter table, and the
check -> pre-event -> write flow.

::

    perform(check, act):
      read tx:  check(tx) -> PreEvent | None     (resolve, role check: 50107/50400)
      pre-event webhook (if the service wants it) -> reject (20403) | replacements
      write tx: check(tx) again, act(tx, replacements) -> result
                (and the request's ``within(tx, result)``, if it has one)
      the commit's Sync events -> the caller's own session, then the reply
"""

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from parley.api import codec
from parley.api.table import Param
from parley.errors import TwilioError
from parley.events import Origin
from parley.realtime.tunnel import Request
from parley.store import Row, Store, Tx, repo
from parley.webhooks import params as hook_params
from parley.webhooks import prehook

if TYPE_CHECKING:
    from parley.app import Parley

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PreEvent:
    """A pre-event to ask about: its name and the action's own parameters."""

    name: str
    params: Mapping[str, str]


@dataclass(slots=True)
class Ctx:
    """Who acts, where. Built from a tunnelled request (``of``), or directly
    (``acting``) by the control plane's simulations, which run the same
    actions without a socket (docs/testing.md "Simulated clients")."""

    request: Request | None
    app: "Parley"
    service_sid: str
    account_sid: str
    identity: str

    @classmethod
    def acting(cls, app: "Parley", account_sid: str, service_sid: str, identity: str) -> "Ctx":
        return cls(None, app, service_sid, account_sid, identity)

    @classmethod
    def of(cls, request: Request) -> "Ctx":
        grant = request.session.grant
        assert grant is not None
        named = request.path_params.get("service")
        if named is not None and named != grant.service_sid:
            raise TwilioError(20404, path=request.path)  # another service's URL
        return cls(
            request,
            request.session.gateway.app,
            grant.service_sid,
            grant.account_sid,
            grant.identity,
        )

    @property
    def store(self) -> Store:
        assert self.app.store is not None
        return self.app.store

    @property
    def origin(self) -> Origin:
        return Origin("sdk", identity=self.identity)

    # -------------------------------------------------------------- URLs

    @property
    def base(self) -> str:
        return f"{self.app.settings.base_url}/Client/v1/Services/{self.service_sid}"

    def user_url(self, identity: str) -> str:
        return f"{self.base}/Users/{quote(identity, safe='')}"

    @property
    def my_conversations(self) -> str:
        return self.user_url(self.identity) + "/Conversations"

    def conversation_url(self, channel_sid: str) -> str:
        return f"{self.base}/Conversations/{channel_sid}"

    # -------------------------------------------------------------- rows

    async def service(self, tx: Tx) -> Row:
        row = await repo.get(tx, "services", {"sid": self.service_sid})
        if row is None:
            raise TwilioError(20404, path=self.base)
        return row

    async def user(self, tx: Tx) -> Row:
        row = await repo.get(
            tx, "users", {"service_sid": self.service_sid, "identity": self.identity}
        )
        if row is None:  # deleted through REST while connected
            raise TwilioError(50200, identity=self.identity)
        return row

    # -------------------------------------------------------------- flow

    async def perform(
        self,
        check: Callable[[Tx], Awaitable[PreEvent | None]],
        act: Callable[[Tx, dict[str, str]], Awaitable[T]],
    ) -> T:
        async with self.store.read() as tx:
            pre = await check(tx)
            service = await self.service(tx)
        replacements: dict[str, str] = {}
        if pre is not None and prehook.wanted(service, pre.name):
            common = hook_params.common(
                pre.name, self.account_sid, self.service_sid, "sdk", self.identity
            )
            assert self.app.prehooks is not None  # the app's shared caller (webhooks.md §4)
            decision = await self.app.prehooks.call(service, pre.name, {**common, **pre.params})
            if not decision.allowed:
                # open-questions.md §40: the client's error is Parley's choice
                raise TwilioError(
                    20403, message=f"Action rejected by the {pre.name} pre-event webhook"
                )
            replacements = decision.replacements
        async with self.store.write() as tx:
            await check(tx)
            result = await act(tx, replacements)
            if self.request is not None and self.request.within is not None:
                await self.request.within(tx, result)
        hub = self.app.sync_hub
        if self.request is not None and hub is not None:
            # the caller's own Sync events go before its reply (§6.3)
            await hub.deliver_to(self.request.session, tx.events)
        return result


async def keyset_page(
    tx: Tx, table: str, where: Mapping[str, Any], token: str | None, size: int
) -> tuple[list[Row], dict[str, str | None]]:
    """A client list page in ``seq`` order with REST's tokens (``PA…`` after,
    ``PB…`` before: api/codec.py) and the ``meta`` the SDKs read: channel
    directories read ``previous_token``, user lists ``prev_token``
    (docs/realtime-protocol.md §7.2)."""
    after, before = codec.cursor(token)
    rows = await repo.page(tx, table, where, after=after, before=before, limit=size + 1)
    rows, more_before, more_after = codec.window(rows, size, before is not None, bool(token))
    prev = codec.make_token("B", rows[0]["seq"]) if rows and more_before else None
    nxt = codec.make_token("A", rows[-1]["seq"]) if rows and more_after else None
    return rows, {"previous_token": prev, "prev_token": prev, "next_token": nxt}


def decode(
    body: Mapping[str, Any], table: Sequence[Param], names: Mapping[str, str]
) -> dict[str, Any]:
    """Client JSON fields (``friendly_name``) decoded with the REST table's
    Params (``FriendlyName``): the same limits and error codes as REST."""
    form: dict[str, list[str]] = {}
    for field, wire in names.items():
        if field in body:
            value = body[field]
            form[wire] = ["" if value is None else str(value)]
    return codec.decode(table, form)


def replace(
    values: dict[str, Any],
    replacements: Mapping[str, str],
    table: Sequence[Param],
    names: Mapping[str, str],
) -> dict[str, Any]:
    """Apply pre-event replacement fields (camelCase keys, webhooks.md §4),
    validated like the request itself."""
    if not replacements:
        return values
    camel = {_camel(f): f for f in names}
    fields = {camel[k]: v for k, v in replacements.items() if k in camel}
    return {**values, **decode(fields, table, names)}


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(part.capitalize() for part in rest)
