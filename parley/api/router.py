"""Routes built from the operation table, matched segment by segment.

Paths are case-sensitive; a trailing slash or an extra segment never matches
(docs/behaviour.md §C1). A path that matches with another verb is a 405.
"""

import operator
from collections.abc import Callable
from dataclasses import dataclass

from parley.api.table import Operation


@dataclass(frozen=True, slots=True)
class _Route:
    variables: Callable[[list[str]], tuple[str, ...]]  # the variable segments' values
    names: tuple[str, ...]  # variable names, in order
    operations: dict[str, Operation]  # method -> operation


def _picker(positions: tuple[int, ...]) -> Callable[[list[str]], tuple[str, ...]]:
    """The segments at ``positions``, as a tuple (C-level: ``itemgetter``)."""
    if len(positions) == 1:
        (only,) = positions
        return lambda segments: (segments[only],)
    return operator.itemgetter(*positions) if positions else lambda segments: ()


# per segment count: per set of literal positions (in the order the table
# first has them), the routes by their literal segments. A match is a dict
# lookup per set (Twilio's paths alternate literals and variables, so there
# is one), not a comparison per route and segment (~1.5 us a request before).
_Picker = Callable[[list[str]], tuple[str, ...]]
_Index = dict[int, list[tuple[tuple[int, ...], _Picker, dict[tuple[str, ...], _Route]]]]


class Router:
    def __init__(self, operations: list[Operation]) -> None:
        by_path: dict[str, dict[str, Operation]] = {}
        for op in operations:
            methods = by_path.setdefault(op.path, {})
            if op.method in methods:
                raise ValueError(f"two operations for {op.method} {op.path}")
            methods[op.method] = op
        self.operations = operations
        self._index: _Index = {}
        for path, methods in by_path.items():
            segments = path.strip("/").split("/")
            literal = tuple(i for i, s in enumerate(segments) if not s.startswith("{"))
            variables = tuple(i for i, s in enumerate(segments) if s.startswith("{"))
            names = tuple(segments[i][1:-1] for i in variables)
            groups = self._index.setdefault(len(segments), [])
            table = next((t for positions, _, t in groups if positions == literal), None)
            if table is None:
                table = {}
                groups.append((literal, _picker(literal), table))
            route = _Route(_picker(variables), names, methods)
            table[tuple(segments[i] for i in literal)] = route

    def match(self, method: str, path: str) -> tuple[Operation | None, dict[str, str], bool]:
        """(operation, path params, path_known). path_known without an
        operation means the verb is not offered there (405)."""
        segments = path[1:].split("/") if path.startswith("/") else []
        for _, literals, table in self._index.get(len(segments), ()):
            route = table.get(literals(segments))
            if route is None:
                continue
            values = route.variables(segments)
            if all(values):
                op = route.operations.get(method)
                return op, dict(zip(route.names, values)), True  # noqa: B905 (same lengths)
        return None, {}, False
