"""Generic repository operations: the SQL of every table, written once.

Table and column names come from code, never from requests; values are always
bound parameters. Statements are built once per shape and cached.
"""

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from parley.store.base import Row, Tx

Where = Mapping[str, Any]


def _conds(keys: tuple[str, ...]) -> str:
    return " AND ".join(f"{k} = :w_{k}" for k in keys) or "1 = 1"


def _bind(where: Where) -> dict[str, Any]:
    return {f"w_{k}": v for k, v in where.items()}


@lru_cache(maxsize=512)
def _insert_sql(table: str, cols: tuple[str, ...], returning: str | None) -> str:
    sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(':' + c for c in cols)})"
    return f"{sql} RETURNING {returning}" if returning else sql


async def insert(tx: Tx, table: str, row: Row, returning: str | None = None) -> Any:
    sql = _insert_sql(table, tuple(row), returning)
    if returning is None:
        await tx.run(sql, row)
        return None
    result = await tx.one(sql, row)
    assert result is not None
    return result[returning]


@lru_cache(maxsize=512)
def _insert_from_sql(
    table: str, cols: tuple[str, ...], taken: tuple[tuple[str, str], ...], returning: str | None
) -> str:
    names = [*cols, *(name for name, _ in taken)]
    values = [f":{c}" for c in cols] + [sql for _, sql in taken]
    sql = f"INSERT INTO {table} ({', '.join(names)}) SELECT {', '.join(values)} FROM taken"
    return f"{sql} RETURNING {returning}" if returning else sql


def insert_from(
    table: str, row: Row, taken: Mapping[str, str], returning: str | None = None
) -> tuple[str, Row]:
    """An insert for ``Tx.chain``: ``row``'s values bound, and ``taken``'s
    columns (name -> SQL on the relation ``taken``, the chain's first row)."""
    assert not row.keys() & taken.keys(), "a column is either bound or taken"
    return _insert_from_sql(table, tuple(row), tuple(taken.items()), returning), row


async def take_row_then(
    tx: Tx,
    table: str,
    where: Where,
    column: str,
    then: Sequence[tuple[str, Row]],
    *,
    also_bump: Sequence[str] = (),
    changes: Row | None = None,
    also_return: Mapping[str, str] | None = None,
) -> Row | None:
    """``take_row``'s statement, then inserts that read its row (``insert_from``),
    through ``Tx.chain``: the row as the take left it (the counter's new value:
    the taken one is that minus 1), with what each insert returned."""
    changes = changes or {}
    params = _bind(where)
    params.update({f"s_{k}": v for k, v in changes.items()})
    extra = tuple((also_return or {}).items())
    sql = _take_sql(table, tuple(where), column, tuple(also_bump), tuple(changes), True, extra)
    return await tx.chain(sql, params, then)


async def insert_later(tx: Tx, table: str, row: Row) -> None:
    """Insert a new row that nothing in this transaction reads back
    (``Tx.later``: on PostgreSQL it is held, then sent with the next plain
    insert, or just before the next other statement or the commit)."""
    await tx.later(_insert_sql(table, tuple(row), None), row)


@lru_cache(maxsize=512)
def _insert_if_absent_sql(table: str, cols: tuple[str, ...]) -> str:
    return _insert_sql(table, cols, None) + " ON CONFLICT DO NOTHING"


async def insert_if_absent(tx: Tx, table: str, row: Row) -> bool:
    """Insert unless a unique key is taken (then nothing happens); whether it inserted.

    Unlike catching a unique violation, this keeps a PostgreSQL transaction
    usable, and a concurrent insert of the same key waits for the other
    transaction instead of failing.
    """
    return await tx.run(_insert_if_absent_sql(table, tuple(row)), row) > 0


async def insert_many(tx: Tx, table: str, rows: Sequence[Row]) -> None:
    """Insert rows with one statement per distinct column set (``executemany``)."""
    shapes: dict[tuple[str, ...], list[Row]] = {}
    for row in rows:
        shapes.setdefault(tuple(row), []).append(row)
    for cols, group in shapes.items():
        await tx.many(_insert_sql(table, cols, None), group)


def in_list(values: Sequence[Any], prefix: str = "v") -> tuple[str, dict[str, Any]]:
    """The placeholders of ``IN (…)`` for ``values`` (``:v0, :v1, …``) and their
    parameters; ``prefix`` keeps them apart from a statement's other names."""
    params = {f"{prefix}{i}": value for i, value in enumerate(values)}
    return ", ".join(f":{name}" for name in params), params


async def existing(tx: Tx, table: str, column: str, values: Sequence[Any]) -> set[Any]:
    """Which of ``values`` are already in ``table.column`` (one query per 500)."""
    found: set[Any] = set()
    for start in range(0, len(values), 500):
        marks, params = in_list(values[start : start + 500])
        sql = f"SELECT {column} AS v FROM {table} WHERE {column} IN ({marks})"
        found.update(r["v"] for r in await tx.all(sql, params))
    return found


@lru_cache(maxsize=512)
def _select_sql(table: str, keys: tuple[str, ...], order: str | None) -> str:
    sql = f"SELECT * FROM {table} WHERE {_conds(keys)}"
    if order:
        sql += f" ORDER BY {order}"
    return sql


async def get(tx: Tx, table: str, where: Where) -> Row | None:
    return await tx.one(_select_sql(table, tuple(where), None), _bind(where))


async def select(tx: Tx, table: str, where: Where, order: str = "seq") -> list[Row]:
    return await tx.all(_select_sql(table, tuple(where), order), _bind(where))


@lru_cache(maxsize=512)
def _count_sql(table: str, keys: tuple[str, ...]) -> str:
    return f"SELECT COUNT(*) AS n FROM {table} WHERE {_conds(keys)}"


async def count(tx: Tx, table: str, where: Where) -> int:
    row = await tx.one(_count_sql(table, tuple(where)), _bind(where))
    return int(row["n"]) if row else 0


@lru_cache(maxsize=512)
def _update_sql(table: str, keys: tuple[str, ...], cols: tuple[str, ...]) -> str:
    sets = ", ".join(f"{c} = :s_{c}" for c in cols)
    return f"UPDATE {table} SET {sets} WHERE {_conds(keys)}"


async def update(tx: Tx, table: str, where: Where, changes: Row) -> int:
    if not changes:
        return 0
    params = _bind(where)
    params.update({f"s_{k}": v for k, v in changes.items()})
    return await tx.run(_update_sql(table, tuple(where), tuple(changes)), params)


@lru_cache(maxsize=512)
def _bump_sql(table: str, keys: tuple[str, ...], column: str, returning: bool) -> str:
    sql = f"UPDATE {table} SET {column} = {column} + :delta WHERE {_conds(keys)}"
    return f"{sql} RETURNING {column}" if returning else sql


async def bump(tx: Tx, table: str, where: Where, column: str, delta: int = 1) -> None:
    """Add ``delta`` to a counter in place (no read-modify-write race)."""
    params = _bind(where)
    params["delta"] = delta
    await tx.run(_bump_sql(table, tuple(where), column, False), params)


@lru_cache(maxsize=512)
def _take_sql(
    table: str,
    keys: tuple[str, ...],
    column: str,
    bumps: tuple[str, ...],
    sets: tuple[str, ...],
    whole: bool,
    extra: tuple[tuple[str, str], ...] = (),
) -> str:
    changes = [f"{c} = {c} + 1" for c in (column, *bumps)] + [f"{c} = :s_{c}" for c in sets]
    returning = ", ".join(["*" if whole else column, *(f"{sql} AS {name}" for name, sql in extra)])
    return f"UPDATE {table} SET {', '.join(changes)} WHERE {_conds(keys)} RETURNING {returning}"


async def take_row(
    tx: Tx,
    table: str,
    where: Where,
    column: str,
    *,
    also_bump: Sequence[str] = (),
    changes: Row | None = None,
    whole: bool = True,
    also_return: Mapping[str, str] | None = None,
) -> tuple[int, Row] | None:
    """``take``, and the row as the statement left it (``whole``; else only
    the counter): what the caller would otherwise read again. None when no
    row matches ``where`` (the statement is also the row's lookup).
    ``also_return``: more of the statement's ``RETURNING`` (name -> SQL
    expression, e.g. a scalar subquery of another table by this row's
    columns), in the row under those names."""
    changes = changes or {}
    params = _bind(where)
    params.update({f"s_{k}": v for k, v in changes.items()})
    extra = tuple((also_return or {}).items())
    sql = _take_sql(table, tuple(where), column, tuple(also_bump), tuple(changes), whole, extra)
    row = await tx.one(sql, params)
    return None if row is None else (int(row[column]) - 1, row)


async def take(
    tx: Tx,
    table: str,
    where: Where,
    column: str,
    *,
    also_bump: Sequence[str] = (),
    changes: Row | None = None,
) -> int:
    """Atomically increment a counter and return the value it had before.

    The row stays locked until the transaction ends (PostgreSQL row lock,
    SQLite's single writer), which is what makes message indexes gap-free.
    ``also_bump`` (+1 each) and ``changes`` are written by the same statement:
    one round trip instead of one per column (measured in bench/).
    """
    taken = await take_row(
        tx, table, where, column, also_bump=also_bump, changes=changes, whole=False
    )
    if taken is None:
        raise LookupError(f"{table} {dict(where)}")
    return taken[0]


@lru_cache(maxsize=512)
def _delete_sql(table: str, keys: tuple[str, ...]) -> str:
    return f"DELETE FROM {table} WHERE {_conds(keys)}"


async def delete(tx: Tx, table: str, where: Where) -> int:
    return await tx.run(_delete_sql(table, tuple(where)), _bind(where))


@lru_cache(maxsize=512)
def _page_sql(
    table: str,
    keys: tuple[str, ...],
    any_of: tuple[tuple[str, int], ...],
    column: str,
    descending: bool,
    cursor: str | None,
    within: tuple[str, str, tuple[str, ...]] | None = None,
) -> str:
    conds = [_conds(keys)] if keys or within is None else []
    if within is not None:
        own, parent, parent_keys = within
        found = " AND ".join(f"{k} = :p_{k}" for k in parent_keys)
        conds.append(f"{own} = (SELECT sid FROM {parent} WHERE {found})")
    for name, n in any_of:
        conds.append(f"{name} IN ({', '.join(f':a_{name}_{i}' for i in range(n))})")
    if cursor == "after":
        conds.append(f"{column} {'<' if descending else '>'} :cursor")
    elif cursor == "before":
        conds.append(f"{column} {'>' if descending else '<'} :cursor")
    # a "before" page is read backwards from the cursor, then reversed
    backwards = descending != (cursor == "before")
    return (
        f"SELECT * FROM {table} WHERE {' AND '.join(conds)} "
        f"ORDER BY {column} {'DESC' if backwards else 'ASC'} LIMIT :limit"
    )


async def page(
    tx: Tx,
    table: str,
    where: Where,
    *,
    any_of: Mapping[str, Sequence[Any]] | None = None,
    column: str = "seq",
    descending: bool = False,
    after: Any = None,
    before: Any = None,
    limit: int,
    within: tuple[str, str, Where] | None = None,
) -> list[Row]:
    """Keyset page: up to ``limit`` rows strictly after (or before) a cursor.

    Cost does not depend on how deep the page is: the cursor is a value of an
    indexed column, never an offset. ``within``: ``(column, parent table,
    parent where)``, the rows whose ``column`` is the SID of the parent row
    ``where`` picks, found by the same statement (a subquery); no rows when
    there is no such parent.
    """
    any_of = {k: v for k, v in (any_of or {}).items() if v}
    cursor = "after" if after is not None else "before" if before is not None else None
    parent = None if within is None else (within[0], within[1], tuple(within[2]))
    sql = _page_sql(
        table,
        tuple(where),
        tuple((k, len(v)) for k, v in any_of.items()),
        column,
        descending,
        cursor,
        parent,
    )
    params = _bind(where)
    if within is not None:
        params.update({f"p_{k}": v for k, v in within[2].items()})
    for name, values in any_of.items():
        params.update({f"a_{name}_{i}": v for i, v in enumerate(values)})
    if cursor is not None:
        params["cursor"] = after if after is not None else before
    params["limit"] = limit
    rows = await tx.all(sql, params)
    if cursor == "before":
        rows.reverse()
    return rows


@lru_cache(maxsize=512)
def _count_above_sql(table: str, keys: tuple[str, ...], column: str) -> str:
    return f"SELECT COUNT(*) AS n FROM {table} WHERE {_conds(keys)} AND {column} > :above"


async def count_above(tx: Tx, table: str, where: Where, column: str, above: Any) -> int:
    """How many rows match ``where`` with ``column`` strictly greater than ``above``."""
    params = _bind(where)
    params["above"] = above
    row = await tx.one(_count_above_sql(table, tuple(where), column), params)
    return int(row["n"]) if row else 0
