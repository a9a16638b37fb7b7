"""What every client endpoint needs: who calls, in which service, the URLs
Parley hands out, and input decoding with the REST parameter table. The flow
of a client action (roles, pre-event, one write) is ``actions.py``'s.
"""

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import quote

from parley.api import codec
from parley.api.table import Param
from parley.domain import services, users
from parley.errors import TwilioError
from parley.events import Event, Origin
from parley.realtime.tunnel import Request
from parley.runtime import Runtime
from parley.store import Row, Store, Tx, repo

Within = Callable[[Tx, Any], Awaitable[None]]


@dataclass(slots=True)
class Ctx:
    """Who acts, where. Built from a tunnelled request (``of``), or directly
    (``acting``) by the control plane's simulations, which run the same
    actions without a socket (docs/testing.md "Simulated clients")."""

    request: Request | None
    runtime: Runtime
    service_sid: str
    account_sid: str
    identity: str
    # the caller's own Sync events of a commit, to its session before the reply
    own_events: Callable[[list[Event]], Awaitable[None]] | None = None
    # run in the action's write transaction with its result (the session-list
    # commands of docs/realtime-protocol.md §9.4 write their answer there, so
    # the change and its answer commit together)
    within: Within | None = None

    @classmethod
    def acting(cls, runtime: Runtime, account_sid: str, service_sid: str, identity: str) -> "Ctx":
        return cls(None, runtime, service_sid, account_sid, identity)

    @classmethod
    def of(cls, request: Request) -> "Ctx":
        grant = request.session.grant
        assert grant is not None
        named = request.path_params.get("service")
        if named is not None and named != grant.service_sid:
            raise TwilioError(20404, path=request.path)  # another service's URL
        return cls(
            request,
            request.runtime,
            grant.service_sid,
            grant.account_sid,
            grant.identity,
            request.own_events,
        )

    @property
    def store(self) -> Store:
        return self.runtime.store

    @property
    def origin(self) -> Origin:
        return Origin("sdk", identity=self.identity)

    # -------------------------------------------------------------- URLs

    @property
    def base(self) -> str:
        return f"{self.runtime.base_url}/Client/v1/Services/{self.service_sid}"

    def user_url(self, identity: str) -> str:
        return f"{self.base}/Users/{quote(identity, safe='')}"

    @property
    def my_conversations(self) -> str:
        return self.user_url(self.identity) + "/Conversations"

    def conversation_url(self, channel_sid: str) -> str:
        return f"{self.base}/Conversations/{channel_sid}"

    # -------------------------------------------------------------- rows

    async def service(self, tx: Tx) -> services.Service:
        row = await services.by_sid(tx, self.service_sid)
        if row is None:
            raise TwilioError(20404, path=self.base)
        return row

    async def user(self, tx: Tx) -> Row:
        row = await users.by_identity(tx, self.service_sid, self.identity)
        if row is None:  # deleted through REST while connected
            raise TwilioError(50200, identity=self.identity)
        return cast(Row, row)  # the Sync view (sync/projection.py) takes generic rows


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
    """Apply pre-event replacement fields (camelCase keys), validated like the
    request itself (docs/behaviour.md, "Pre-event webhooks for client actions")."""
    if not replacements:
        return values
    camel = {_camel(f): f for f in names}
    fields = {camel[k]: v for k, v in replacements.items() if k in camel}
    return {**values, **decode(fields, table, names)}


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(part.capitalize() for part in rest)
