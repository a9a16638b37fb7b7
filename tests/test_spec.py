"""Twilio's spec as the oracle for the route table (parley/api/operations.py).

Fails on a route the spec does not have, a spec parameter a routed operation
does not declare, a declared parameter the spec does not have, a JSON field
that differs from the spec's schema, and a README coverage table that is stale.
"""

from pathlib import Path
from typing import Any

import pytest

from parley import coverage
from parley.api.operations import OPERATIONS
from parley.api.table import Operation
from tests import spec_oracle

PAGING = {"PageSize", "Page", "PageToken"}
HEADERS = {"X-Twilio-Webhook-Enabled"}
ROOT = Path(__file__).resolve().parents[1]


def _spec_op(op: Operation) -> dict[str, Any]:
    item = spec_oracle.spec()["paths"].get(op.path)
    assert item is not None, f"{op.path} is not in the spec"
    found = item.get(op.method.lower())
    assert found is not None, f"{op.method} {op.path} is not in the spec"
    return dict(found)


def _ids(op: Operation) -> str:
    return f"{op.method} {op.path}"


@pytest.mark.parametrize("op", OPERATIONS, ids=_ids)
def test_route_is_a_spec_operation(op: Operation) -> None:
    _spec_op(op)


@pytest.mark.parametrize("op", OPERATIONS, ids=_ids)
def test_parameters_match(op: Operation) -> None:
    spec_op = _spec_op(op)
    wanted: set[str] = set()
    for param in spec_op.get("parameters", []):
        if param["in"] == "query":
            wanted.add(param["name"])
    body = spec_op.get("requestBody", {}).get("content", {})
    form = body.get("application/x-www-form-urlencoded", {}).get("schema", {})
    wanted |= set(form.get("properties", {}))
    required = set(form.get("required", []))
    declared = {p.wire for p in op.params}
    assert declared == wanted - PAGING - HEADERS
    assert {p.wire for p in op.params if p.required} == required


@pytest.mark.parametrize("op", OPERATIONS, ids=_ids)
def test_fields_match(op: Operation) -> None:
    spec_op = _spec_op(op)
    ok = spec_op["responses"].get(str(op.status), {})
    content = ok.get("content")
    if op.verb == "delete":
        assert content is None
        return
    schema = content["application/json"]["schema"]
    if op.verb == "list":
        props = schema["properties"]
        key = next(k for k in props if k != "meta")
        assert key == op.resource.key
        schema = props[key]["items"]
    name = schema["$ref"].rsplit("/", 1)[-1]
    fields = spec_oracle.spec()["components"]["schemas"][name]["properties"]
    keys = [f.key for f in op.resource.fields]
    assert len(keys) == len(set(keys))
    assert set(keys) == set(fields)


def test_page_sizes_match_spec() -> None:
    for op in OPERATIONS:
        if op.verb != "list":
            continue
        sizes = [p for p in _spec_op(op).get("parameters", []) if p["name"] == "PageSize"]
        assert sizes, op.path
        assert sizes[0]["schema"].get("maximum") == op.resource.max_page_size, op.path


def test_readme_coverage_table_is_current() -> None:
    readme = (ROOT / "README.md").read_text()
    assert coverage.render_into(readme, spec_oracle.spec()) == readme, "run `make coverage`"


def test_every_spec_operation_is_routed() -> None:
    """The whole Chat v2 surface: each (verb, path) of the spec has a route."""
    routed = {(op.method, op.path) for op in OPERATIONS}
    missing = [
        f"{op_id} {method} {path}"
        for method, path, op_id in spec_oracle.operations()
        if (method, path) not in routed
    ]
    assert not missing, "not routed: " + ", ".join(missing)
