"""Every table with a declared owner (``parley/store/tables.py`` ``OWNERS``) is
named in queries by that module only: a repository call with the table's name,
or SQL that reads or writes it, anywhere else fails here. Other modules use the
owner's named, typed queries."""

import ast
import inspect
import re
from collections.abc import Iterator
from pathlib import Path

from parley.store import repo, tables

PACKAGE = Path(__file__).resolve().parents[1] / "parley"

# the generic store helpers (every function of parley.store.repo that takes a
# table) and the REST / client pagers built on them, by the position of their
# table argument
TABLE_TAKERS = {
    name: list(inspect.signature(fn).parameters).index("table")
    for name, fn in vars(repo).items()
    if not name.startswith("_")
    and inspect.isfunction(fn)
    and "table" in inspect.signature(fn).parameters
} | {"listing": 0, "by_sid": 1, "by_key": 1, "keyset_page": 1}
SQL = re.compile(r"\b(?:FROM|INTO|UPDATE|JOIN|TABLE)\s+([a-z_]+)")

# Tables without an owner yet (no typed row, no named queries): any module may
# still name them. An owned table leaves this list.
NOT_OWNED = {
    "parley_schema",  # the store's own bookkeeping (store/sqlite.py, store/postgres.py)
}

# (module, table) call sites of owned tables left where they are, each a known debt.
LEFT: set[tuple[str, str]] = set()

# An owner's ``TABLE`` constant is for the generic REST lookups and pagers
# only; everywhere else a module calls the owner's queries.
PAGERS = {"listing", "by_sid", "by_key", "keyset_page"}
GENERIC = {"parley.api.scope"}  # the REST path's own lookups (by SID, by key, by path)


def _module(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _named(tree: ast.AST, names: set[str]) -> Iterator[tuple[str, int]]:
    """(table, line) for each query naming one of ``names``."""
    for table, line, _ in _statements(tree, names):
        yield table, line


def _statements(tree: ast.AST, names: set[str]) -> Iterator[tuple[str, int, set[str]]]:
    """(table, line, every table the statement names) for each query naming
    one of ``names``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            at = TABLE_TAKERS.get(called) if isinstance(called, str) else None
            if at is not None and len(node.args) > at:
                arg = node.args[at]
                if isinstance(arg, ast.Constant) and arg.value in names:
                    yield arg.value, node.lineno, {arg.value}
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            named = set(SQL.findall(node.value))
            for table in named & names:
                yield table, node.lineno, named


def _sources() -> Iterator[tuple[str, ast.AST]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        if "migrations" in path.parts or path == PACKAGE / "store" / "tables.py":
            continue
        yield _module(path), ast.parse(path.read_text(), str(path))


def test_every_table_has_an_owner_or_is_listed_as_not_yet() -> None:
    schema = {t.name for t in tables.ACCOUNT} | tables.GLOBAL
    assert set(tables.OWNERS) <= schema, "owned tables exist"
    assert not set(tables.OWNERS) & NOT_OWNED, "an owned table leaves NOT_OWNED"
    missing = schema - set(tables.OWNERS) - NOT_OWNED
    assert not missing, f"give {sorted(missing)} an owner in parley/store/tables.py OWNERS"


def test_owners_exist_and_name_their_table() -> None:
    sources = dict(_sources())
    for table, owner in tables.OWNERS.items():
        assert owner in sources, f"{table}: no module {owner}"
        declared = f"TABLE = '{table}'" in ast.unparse(sources[owner])
        assert declared or any(_named(sources[owner], {table})), (
            f"{owner} owns {table} but never queries it"
        )


def _joined(module: str, table: str, statement: set[str]) -> bool:
    """A named query of ``module`` reading ``table`` in a statement with its
    own table, as ``tables.JOINS`` allows."""
    own = {t for t, owner in tables.OWNERS.items() if owner == module}
    return table in tables.JOINS.get(module, ()) and bool(statement & own)


def test_only_its_owner_names_a_table_in_a_query() -> None:
    owned = set(tables.OWNERS)
    found = set()
    stray = []
    for module, tree in _sources():
        for table, line, statement in _statements(tree, owned):
            if module == tables.OWNERS[table] or _joined(module, table, statement):
                continue
            found.add((module, table))
            if (module, table) not in LEFT:
                stray.append(f"{module}:{line} names {table} (owner: {tables.OWNERS[table]})")
    assert not stray, "use the owner's named queries:\n" + "\n".join(stray)
    assert not LEFT - found, f"no longer needed in LEFT: {sorted(LEFT - found)}"


def test_joins_are_declared_by_owners_and_used() -> None:
    schema = {t.name for t in tables.ACCOUNT} | tables.GLOBAL
    sources = dict(_sources())
    for module, others in tables.JOINS.items():
        assert module in tables.OWNERS.values(), f"{module} owns no table to join from"
        assert others <= schema, f"{module} joins tables that exist"
        used = {
            table
            for table, _, statement in _statements(sources[module], set(others))
            if _joined(module, table, statement)
        }
        assert used == others, f"{module} no longer joins {sorted(others - used)}"


def test_an_owners_table_constant_only_feeds_the_generic_pagers() -> None:
    stray = []
    for module, tree in _sources():
        if module in GENERIC:
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if called in PAGERS:
                continue
            for arg in node.args:
                if isinstance(arg, ast.Attribute) and arg.attr == "TABLE":
                    stray.append(f"{module}:{node.lineno} passes {ast.unparse(arg)} to {called}")
    assert not stray, "use the owner's named queries:\n" + "\n".join(stray)


def test_a_join_is_allowed_only_with_the_owners_own_table() -> None:
    tree = ast.parse(
        "async def f(tx):\n"
        '    await tx.all("SELECT b.* FROM members m JOIN bindings b ON b.user_sid = m.user_sid")\n'
        '    await tx.all("SELECT * FROM members")\n'
    )
    module = "parley.domain.bindings"
    allowed = [
        line for t, line, named in _statements(tree, {"members"}) if _joined(module, t, named)
    ]
    assert allowed == [2]


def test_the_scan_sees_a_stray_query() -> None:
    stray = ast.parse(
        'async def f(tx):\n    await repo.get(tx, "users", {})\n'
        '    await tx.all("SELECT * FROM members WHERE sid = :s")\n'
    )
    assert sorted(_named(stray, {"users", "members"})) == [("members", 3), ("users", 2)]
