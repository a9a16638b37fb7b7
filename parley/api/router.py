"""Routes built from the operation table, matched segment by segment.

Paths are case-sensitive; a trailing slash or an extra segment never matches
(docs/behaviour.md §C1). A path that matches with another verb is a 405.
"""

from dataclasses import dataclass

from parley.api.table import Operation


@dataclass(frozen=True, slots=True)
class _Route:
    parts: tuple[str | None, ...]  # literal segment, or None for a variable
    names: tuple[str, ...]  # variable names, in order
    operations: dict[str, Operation]  # method -> operation


class Router:
    def __init__(self, operations: list[Operation]) -> None:
        by_path: dict[str, dict[str, Operation]] = {}
        for op in operations:
            methods = by_path.setdefault(op.path, {})
            if op.method in methods:
                raise ValueError(f"two operations for {op.method} {op.path}")
            methods[op.method] = op
        self.operations = operations
        self._routes: dict[int, list[_Route]] = {}
        for path, methods in by_path.items():
            segments = path.strip("/").split("/")
            parts = tuple(None if s.startswith("{") else s for s in segments)
            names = tuple(s[1:-1] for s in segments if s.startswith("{"))
            self._routes.setdefault(len(segments), []).append(_Route(parts, names, methods))

    def match(self, method: str, path: str) -> tuple[Operation | None, dict[str, str], bool]:
        """(operation, path params, path_known). path_known without an
        operation means the verb is not offered there (405)."""
        segments = path[1:].split("/") if path.startswith("/") else []
        for route in self._routes.get(len(segments), ()):
            values = []
            for part, segment in zip(route.parts, segments, strict=True):
                if part is None:
                    if not segment:
                        break
                    values.append(segment)
                elif part != segment:
                    break
            else:
                op = route.operations.get(method)
                return op, dict(zip(route.names, values, strict=True)), True
        return None, {}, False
