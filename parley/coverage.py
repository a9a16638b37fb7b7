"""The README's coverage table: every operation of Twilio's Chat v2 spec and
whether Parley routes it. Generated from the spec and the route table, never
kept by hand (``make coverage``; ``tests/test_spec.py`` fails when stale).

    python -m parley.coverage [--spec PATH] [--write README.md]
"""

import argparse
import json
import re
from pathlib import Path

from parley.api.operations import OPERATIONS

SPEC_NAME = "shared/reference/twilio_chat_v2.openapi.json"


def find_spec() -> Path:
    """The spec in ``shared/`` next to the checkout, or next to a parent of it
    (a worktree under ``wt/`` finds the same ``shared/`` as the main checkout)."""
    here = Path(__file__).resolve().parents[1]
    for folder in here.parents:
        if (folder / SPEC_NAME).is_file():
            return folder / SPEC_NAME
    return here.parent / SPEC_NAME


DEFAULT_SPEC = find_spec()
BEGIN = "<!-- coverage:begin -->"
END = "<!-- coverage:end -->"


def table(spec: dict[str, object]) -> str:
    routed = {(op.method, op.path) for op in OPERATIONS}
    rows = []
    paths = spec["paths"]
    assert isinstance(paths, dict)
    for path in sorted(paths):
        for method in ("get", "post", "delete"):
            operation = paths[path].get(method)
            if operation is None:
                continue
            mark = "yes" if (method.upper(), path) in routed else "no"
            rows.append(f"| `{operation['operationId']}` | {method.upper()} | `{path}` | {mark} |")
    done = sum(1 for r in rows if r.endswith("| yes |"))
    head = [
        f"{done} of {len(rows)} operations of the Chat v2 spec are routed.",
        "",
        "| operation | verb | path | routed |",
        "|---|---|---|---|",
    ]
    return "\n".join(head + rows)


def render_into(readme: str, spec: dict[str, object]) -> str:
    block = f"{BEGIN}\n{table(spec)}\n{END}"
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    if not pattern.search(readme):
        raise SystemExit(f"README has no {BEGIN} … {END} block")
    return pattern.sub(lambda _: block, readme)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--spec", type=Path, default=DEFAULT_SPEC)
    parser.add_argument("--write", type=Path, default=None, help="update this README in place")
    args = parser.parse_args()
    spec = json.loads(args.spec.read_text())
    if args.write:
        args.write.write_text(render_into(args.write.read_text(), spec))
    else:
        print(table(spec))


if __name__ == "__main__":
    main()
