"""The Store protocol: transactions that run SQL written once for both engines.

SQL uses ``:name`` placeholders; each engine adapts them (SQLite natively,
PostgreSQL through ``sql.numbered``). Engine-specific SQL lives only in
migrations. Repositories (``repo.py``) build on ``Tx`` and nothing else.

A write transaction collects the domain events recorded in it; after it commits,
the store hands them to ``on_commit`` (the bus). Nothing is published for a
transaction that rolled back.
"""

from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from parley.errors import TwilioError

Row = dict[str, Any]
Params = Mapping[str, Any]


class UniqueViolation(Exception):
    """A UNIQUE constraint refused a write; carries the engine's text."""


class StoreUnavailable(TwilioError):
    """The database cannot serve now: unreachable, restarting, or locked by
    another process past the wait allowed. Nothing was committed. It is
    Twilio's 503 / 20503, so every surface answers it with Retry-After like
    any other error (docs/security.md, "Faults")."""

    def __init__(self, detail: str) -> None:
        super().__init__(20503, detail=detail)


# In-transaction projectors, ``(tx, event)``: called by ``events.record``
# inside the transaction that recorded the event, so a view derived from events
# (the Sync view, the webhook deliveries) is never behind or ahead of the data.
# The app's lifespan gives the store its list (``open_store(url, projectors)``).
Projector = Callable[[Any, Any], Awaitable[None]]


class Tx(Protocol):
    """One transaction (or one read snapshot)."""

    events: list[Any]
    projectors: Sequence[Projector]  # a write's (none for a read)

    async def one(self, sql: str, params: Params | None = None) -> Row | None: ...

    async def all(self, sql: str, params: Params | None = None) -> list[Row]: ...

    async def run(self, sql: str, params: Params | None = None) -> int:
        """Execute a statement; returns the number of rows it changed."""
        ...

    async def many(self, sql: str, rows: Sequence[Params]) -> None: ...

    async def later(self, sql: str, params: Params) -> None:
        """An ``INSERT`` of new rows whose result nobody reads: the engine may
        hold it and send it with the transaction's other held inserts in one
        statement, together with the next plain ``INSERT … VALUES`` (which
        reads no row), or before any other statement or the commit (PostgreSQL:
        one round trip for all of them). Held inserts must not depend on each
        other (none reads a row another writes), and rows sent together take
        their generated keys (``seq``) in no set order, so hold only rows
        nothing orders by them; a constraint they break is raised by the
        statement that sends them."""
        ...

    async def chain(
        self, first: str, params: Params, then: Sequence[tuple[str, Params]]
    ) -> Row | None:
        """``first``, a statement that changes at most one row and returns it
        (``UPDATE … RETURNING``), then inserts that read that row as the
        relation ``taken`` (``INSERT INTO t (…) SELECT …, taken.c FROM taken``,
        at most one ``RETURNING`` column each): one statement on PostgreSQL
        (data-modifying ``WITH`` parts, one round trip; docs/decisions.md
        §46), in order on SQLite (``taken`` bound from the first row). Returns
        the first statement's row, with the column the i-th insert returned
        as ``q<i>_<column>``; None when the first matched no row (then
        nothing was inserted). Held inserts (``later``) go with it."""
        ...

    async def sync_sequence(self, table: str) -> None:
        """After rows were inserted with explicit ``seq`` values, make the
        table's own counter continue past them (a no-op where the engine does)."""
        ...


OnCommit = Callable[[list[Any]], Awaitable[None]]


class Store(Protocol):
    engine: str
    on_commit: OnCommit | None
    projectors: Sequence[Projector]

    def write(self) -> AbstractAsyncContextManager[Tx]:
        """A serialisable-enough write transaction; commits on clean exit."""
        ...

    def read(self) -> AbstractAsyncContextManager[Tx]:
        """A read of committed state."""
        ...

    async def migrate(self) -> None: ...

    async def close(self) -> None: ...
