"""Twilio's OpenAPI spec as the oracle every response is checked against.

The spec is read from ``../shared/reference`` (it stays out of the repo). Each
resource schema is made strict: every property required (Twilio always sends
every key, docs/behaviour.md §C4) and no property beyond the spec's.
"""

import copy
import json
import re
from functools import cache
from typing import Any

import jsonschema

from parley import coverage

SPEC_PATH = coverage.find_spec()
ERROR_KEYS = {"code", "message", "more_info", "status"}


@cache
def spec() -> dict[str, Any]:
    return json.loads(SPEC_PATH.read_text())


def operations() -> list[tuple[str, str, str]]:
    """(method, path, operationId) of every operation in the spec."""
    out = []
    for path, item in spec()["paths"].items():
        for method in ("get", "post", "delete"):
            if method in item:
                out.append((method.upper(), path, item[method]["operationId"]))
    return out


def _strict(schema: Any) -> Any:
    """OpenAPI 3.0 -> JSON Schema: nullable, $ref inlined, all keys required."""
    if isinstance(schema, list):
        return [_strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return _strict(copy.deepcopy(spec()["components"]["schemas"][name]))
    out = {k: _strict(v) for k, v in schema.items() if k not in ("nullable", "x-twilio", "example")}
    if schema.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    if out.get("type") == "object" or (
        isinstance(out.get("type"), list) and "object" in out["type"]
    ):
        props = out.get("properties")
        if props:
            out["required"] = sorted(props)
            out["additionalProperties"] = False
    return out


@cache
def _matchers() -> list[tuple[re.Pattern[str], str]]:
    found = []
    for path in spec()["paths"]:
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"
        found.append((re.compile(pattern), path))
    # literal segments beat variables: longer literal text first
    found.sort(key=lambda m: -len(re.sub(r"\{[^}]+\}", "", m[1])))
    return found


def spec_path(path: str) -> str | None:
    for pattern, template in _matchers():
        if pattern.match(path):
            return template
    return None


@cache
def _validator(path: str, method: str, status: str) -> jsonschema.Draft7Validator | None:
    operation = spec()["paths"][path][method.lower()]
    response = operation["responses"].get(status)
    if response is None:
        raise AssertionError(f"{method} {path} answered {status}, which the spec does not list")
    content = response.get("content")
    if not content:
        return None
    schema = _strict(content["application/json"]["schema"])
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())


def check(method: str, path: str, status: int, body: str) -> None:
    """Raise AssertionError when a response does not match the spec."""
    if status >= 400:
        data = json.loads(body)
        assert ERROR_KEYS <= set(data) <= ERROR_KEYS | {"details"}, data
        assert data["status"] == status, data
        assert data["more_info"] == f"https://www.twilio.com/docs/errors/{data['code']}", data
        return
    template = spec_path(path)
    assert template is not None, f"{path} is not a spec path"
    validator = _validator(template, method, str(status))
    if validator is None:
        assert body == "", f"{method} {path} {status} must have no body"
        return
    data = json.loads(body)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.path))
    assert not errors, f"{method} {path}: " + "; ".join(
        f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors[:5]
    )
