"""The OpenAPI document is written for people (issue 14): every operation has a
summary, its tag a description, the error answers it can give (as problem+json),
an example request (when it takes a body) and answer, each valid against its
schema, and ids that are UUIDs say so (``format: uuid``)."""

from __future__ import annotations

from typing import Any

import jsonschema_rs
import pytest

from coord.api.app import openapi_schema
from coord.settings import load_settings

PROBLEM = "application/problem+json"
# Text properties named like ids that are not UUIDs: keys have ids of their own, and
# a bad row of the audit may be of any table (event ids are integers).
NOT_UUIDS = {("ApiKeyInfo", "id"), ("Me", "key_id"), ("BadRow", "id")}


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return openapi_schema(load_settings(database_url="sqlite:///:memory:"))


def _operations(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{method.upper()} {path}", op)
        for path, item in schema["paths"].items()
        for method, op in item.items()
    ]


def _valid(schema: dict[str, Any], part: dict[str, Any], value: Any) -> list[str]:
    root = {**part, "components": schema["components"]}
    validator = jsonschema_rs.Draft202012Validator(root, validate_formats=True)
    return [error.message for error in validator.iter_errors(value)]


def test_every_operation_has_a_summary_for_people(schema: dict[str, Any]) -> None:
    for name, op in _operations(schema):
        summary = op.get("summary", "")
        assert summary, name
        # Not FastAPI's title-cased function name: a sentence that starts with a verb.
        assert summary[0].isupper() and not summary.istitle(), (name, summary)
        assert op.get("description"), name


def test_every_tag_is_described(schema: dict[str, Any]) -> None:
    described = {t["name"]: t["description"] for t in schema["tags"]}
    for name, op in _operations(schema):
        for tag in op["tags"]:
            assert described.get(tag), (name, tag)


def test_every_operation_lists_its_error_answers_as_problems(schema: dict[str, Any]) -> None:
    for name, op in _operations(schema):
        errors = {s: r for s, r in op["responses"].items() if s[:1] in "45"}
        for status, response in errors.items():
            assert list(response["content"]) == [PROBLEM], (name, status)
        statuses = set(errors)
        if op["operationId"] in {"healthz", "readyz"}:
            assert statuses <= {"503"}, name
            continue
        assert {"401", "403", "422", "429"} <= statuses, name
        if any(p["in"] == "path" for p in op.get("parameters", [])):
            assert "404" in statuses, name
        if "requestBody" in op:
            assert {"400", "413", "415"} <= statuses, name
        else:
            assert not {"400", "413", "415"} & statuses, name
    # Only what an operation can answer: a read of a list never conflicts.
    assert "409" not in schema["paths"]["/api/v1/tasks"]["get"]["responses"]
    assert "409" in schema["paths"]["/api/v1/tasks/{task_id}/cancel"]["post"]["responses"]


def test_every_operation_has_examples_valid_against_its_schema(schema: dict[str, Any]) -> None:
    for name, op in _operations(schema):
        body = op.get("requestBody", {}).get("content", {}).get("application/json")
        if body is not None:
            assert "example" in body, f"{name}: no request example"
            assert _valid(schema, body["schema"], body["example"]) == [], name
        shown = 0
        for status, response in op["responses"].items():
            for kind, content in response.get("content", {}).items():
                if status.startswith("2"):
                    assert "example" in content, f"{name} {status} {kind}: no example"
                    shown += 1
                    if kind == "application/json":
                        found = _valid(schema, content["schema"], content["example"])
                        assert found == [], (name, status, found)
        no_body = {s for s in op["responses"] if s.startswith("2")} <= {"204"}
        assert shown or no_body, f"{name}: no answer example"


def test_ids_are_typed_as_uuids(schema: dict[str, Any]) -> None:
    def is_text(part: dict[str, Any]) -> bool:
        options = part.get("anyOf", [part])
        return any(o.get("items", o).get("type") == "string" for o in options)

    def is_uuid(part: dict[str, Any]) -> bool:
        options = part.get("anyOf", [part])
        strings = [o.get("items", o) for o in options if o.get("type") in {"string", "array"}]
        return bool(strings) and all(s.get("format") == "uuid" for s in strings)

    for name, component in schema["components"]["schemas"].items():
        for field, part in component.get("properties", {}).items():
            id_like = field == "id" or field.endswith(("_id", "_ids")) or field == "ids"
            if id_like and is_text(part) and (name, field) not in NOT_UUIDS:
                assert is_uuid(part), f"{name}.{field} is not typed as a UUID"
    for name, op in _operations(schema):
        for parameter in op.get("parameters", []):
            named = parameter["name"].endswith("_id") and parameter["name"] != "key_id"
            if named and is_text(parameter["schema"]):
                assert is_uuid(parameter["schema"]), (name, parameter["name"])
