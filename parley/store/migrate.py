"""Numbered ``.sql`` migrations shared by both engines (one schema history).

``{{pk}}`` is the only engine-specific word; each engine supplies it.
"""

from importlib import resources

MIGRATIONS = "parley.store.migrations"


def migrations(pk: str) -> list[tuple[int, str]]:
    """(version, SQL) in order, with the engine's primary-key clause filled in."""
    found = []
    for entry in resources.files(MIGRATIONS).iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), entry.read_text("utf-8").replace("{{pk}}", pk)))
    return sorted(found)


def statements(script: str) -> list[str]:
    """Split a migration into statements (no semicolons inside our DDL)."""
    lines = [ln for ln in script.splitlines() if not ln.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
