"""No import cycle among Parley's modules, counting imports made inside
functions (a lazy import is how a cycle hides), and no module reaches the app
object: components receive what they need when the lifespan builds them."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "parley"


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(tree: ast.AST, name: str, is_package: bool) -> tuple[set[str], set[str]]:
    """(names imported when the code runs, names imported for type checking only)."""
    run: set[str] = set()
    typing_only: set[str] = set()

    def visit(node: ast.AST, into: set[str]) -> None:
        for child in ast.iter_child_nodes(node):
            target = typing_only if _type_checking(child) else into
            if isinstance(child, ast.Import):
                target.update(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    package = name.split(".") if is_package else name.split(".")[:-1]
                    package = package[: len(package) - child.level + 1]
                    base = ".".join([*package, *([child.module] if child.module else [])])
                target.add(base)
                target.update(f"{base}.{alias.name}" for alias in child.names)
            visit(child, target)

    visit(tree, run)
    return run, typing_only


def _graph() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    modules = _modules()
    run_graph: dict[str, set[str]] = {}
    typing_graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        run, typing_only = _imports(ast.parse(path.read_text()), name, path.name == "__init__.py")
        for graph, names in ((run_graph, run), (typing_graph, typing_only)):
            edges = set()
            for imported in names:
                parts = imported.split(".")
                # importing a.b.c runs a and a.b first; a module's own packages are
                # already being imported when it runs, so they are no edge
                for i in range(1, len(parts) + 1):
                    target = ".".join(parts[:i])
                    if target in modules and not f"{name}.".startswith(f"{target}."):
                        edges.add(target)
            graph[name] = edges - {name}
    return run_graph, typing_graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                connect(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def test_the_detector_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
    tree = ast.parse("from parley import x\ndef f():\n    from parley.y import z\n")
    run, typing_only = _imports(tree, "parley.w", False)
    assert {"parley.x", "parley.y"} <= run and not typing_only


def test_no_import_cycle_among_parley_modules() -> None:
    run_graph, _ = _graph()
    assert len(run_graph) > 50, "the package's modules were found"
    assert _cycles(run_graph) == []


def test_only_the_entry_points_import_the_app() -> None:
    """The app object is no service locator: only the CLI and the test
    plugin (which start it) import parley.app, for running or for types."""
    run_graph, typing_graph = _graph()
    importers = {
        name
        for graph in (run_graph, typing_graph)
        for name, edges in graph.items()
        if "parley.app" in edges
    }
    assert importers <= {"parley.cli", "parley.testing", "parley.server"}
