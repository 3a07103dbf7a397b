"""The compiled fast path (shared.domain.schema_validator) never changes a verdict or an error.

For every shipped queue schema (handlers/, conveyor/examples/, tests/, bench/) and the extra
schemas below (each keyword and format the fast path serves, each draft, and schemas it must
leave to jsonschema), hypothesis generates valid instances (tests/support/schema_instances.py),
mutated ones and arbitrary JSON; ``validation_errors`` through the combined validator equals plain
jsonschema's, errors included.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from shared.domain.payloads import validation_errors
from shared.domain.schema_validator import SAME_FORMATS, SchemaValidator
from shared.queues.definitions import build_validator
from tests.support.paths import REPO
from tests.support.schema_instances import JSON, fitting

ROOT = REPO
SHIPPED = sorted(
    path
    for pattern in ("handlers/*", "conveyor/examples/*", "tests/**/*", "bench/**/*")
    for path in ROOT.glob(pattern + ".queue.json")
)
_OBJECT = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "at": {"type": ["string", "null"], "maxLength": 3},
        "mail": {"type": "string", "format": "email"},
        "idn": {"type": "string", "format": "idn-email"},
        "v4": {"type": "string", "format": "ipv4"},
        "v6": {"type": "string", "format": "ipv6"},
        "n": {"type": "integer", "minimum": -5, "exclusiveMaximum": 2**70},
        "x": {"type": "number", "maximum": 1.5, "exclusiveMinimum": -1e300},
        "tags": {"type": "array", "items": {"enum": [1, "a", None, True]}, "uniqueItems": True},
        "k": {"const": {"a": [1, 2.0]}},
    },
    "required": ["id"],
    "additionalProperties": False,
}
SERVED: list[Any] = [
    _OBJECT,
    {"$schema": "http://json-schema.org/draft-07/schema#", **_OBJECT},
    {"$schema": "http://json-schema.org/draft-06/schema#", **_OBJECT},
    {"$schema": "https://json-schema.org/draft/2019-09/schema", **_OBJECT},
    {
        "$defs": {"leaf": {"type": ["string", "null"], "minLength": 2, "maxLength": 3}},
        "type": "array",
        "prefixItems": [{"$ref": "#/$defs/leaf"}, {"type": "boolean"}],
        "items": {"type": "integer"},
        "minItems": 1,
        "maxItems": 4,
        "contains": {"type": "integer"},
        "maxContains": 2,
    },
    {
        "oneOf": [{"type": "integer", "maximum": 3}, {"type": "number", "minimum": 2}],
        "not": {"const": 2.5},
    },
    {
        "type": "object",
        "if": {"required": ["a"]},
        "then": {"properties": {"a": {"type": "string"}}},
        "else": {"minProperties": 2, "maxProperties": 3},
        "propertyNames": {"maxLength": 2},
        "dependentRequired": {"a": ["b"]},
        "dependentSchemas": {"b": {"properties": {"b": {"type": "integer"}}}},
    },
    {"anyOf": [{"type": "string", "format": "ipv4"}, {"type": "string", "format": "ipv6"}]},
    True,
    False,
]
#: Outside the fast path: jsonschema alone, so these agree by construction.
EXTRA: list[Any] = [
    *SERVED,
    {"type": "string", "format": "date"},
    {"type": "string", "pattern": "^\\D+$"},
    {"type": "number", "multipleOf": 0.01},
    {"$schema": "http://json-schema.org/draft-04/schema#", "type": "integer"},
]


def _schemas() -> list[Any]:
    unique: dict[str, Any] = {}
    for path in SHIPPED:
        schema = json.loads(path.read_text())["incoming"]["schema"]
        unique.setdefault(json.dumps(schema, sort_keys=True), schema)
    for schema in EXTRA:
        unique.setdefault(json.dumps(schema, sort_keys=True), schema)
    return list(unique.values())


SCHEMAS = _schemas()
CHECKS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _mutate(data: st.DataObject, value: Any) -> Any:
    """``value`` with one part replaced, removed or added (or descended into)."""
    action = data.draw(st.sampled_from(["replace", "descend", "drop", "add"]))
    if action == "descend" and isinstance(value, (list, dict)) and value:
        keys = list(range(len(value))) if isinstance(value, list) else list(value)
        key = data.draw(st.sampled_from(keys))
        copy: Any = list(value) if isinstance(value, list) else dict(value)
        copy[key] = _mutate(data, value[key])
        return copy
    if action == "drop" and isinstance(value, dict) and value:
        key = data.draw(st.sampled_from(sorted(value)))
        return {k: v for k, v in value.items() if k != key}
    if action == "add" and isinstance(value, (list, dict)):
        extra = data.draw(JSON)
        if isinstance(value, list):
            return [*value, extra]
        return {**value, data.draw(st.text(max_size=6)): extra}
    return data.draw(JSON)


def _agree(validator: SchemaValidator, instance: Any) -> None:
    assert validation_errors(validator, instance) == validation_errors(
        validator.checker, instance
    ), instance


def _ids(schema: Any) -> str:
    return json.dumps(schema, sort_keys=True)[:60]


def test_the_shipped_schemas_are_all_covered_and_served() -> None:
    assert len(SHIPPED) >= 19
    assert len(SCHEMAS) >= len(EXTRA)
    for path in SHIPPED:
        schema = json.loads(path.read_text())["incoming"]["schema"]
        assert build_validator(path, schema).fast is not None, path
    for schema in SERVED:
        assert build_validator(Path("q.queue.json"), schema).fast is not None, schema


@pytest.mark.parametrize("schema", [s for s in SCHEMAS if s is not False], ids=_ids)
@CHECKS
@given(data=st.data())
def test_valid_instances_get_jsonschemas_verdict(schema: Any, data: st.DataObject) -> None:
    validator = build_validator(Path("q.queue.json"), schema)
    instance = data.draw(fitting(schema))
    assume(validator.checker.is_valid(instance))
    _agree(validator, instance)


@pytest.mark.parametrize("schema", SCHEMAS, ids=_ids)
@CHECKS
@given(data=st.data())
def test_mutated_instances_get_jsonschemas_verdict_and_errors(
    schema: Any, data: st.DataObject
) -> None:
    validator = build_validator(Path("q.queue.json"), schema)
    seed = data.draw(fitting(schema))
    _agree(validator, _mutate(data, seed))


@pytest.mark.parametrize("schema", SCHEMAS, ids=_ids)
@CHECKS
@given(instance=JSON)
def test_any_json_gets_jsonschemas_verdict(schema: Any, instance: Any) -> None:
    _agree(build_validator(Path("q.queue.json"), schema), instance)


#: Strings near the edge of each served format: jsonschema-rs may refuse more, never accept more.
EDGES = [
    "", "@", "a@", "@b", "a@b", "a b@c", "\u0661@x", "1.2.3.4", "01.2.3.4", "1.2.3.256",
    "1.2.3", "1.2.3.4 ", "\u0661.2.3.4", "::", "::1", "fe80::1%eth0", "::ffff:1.2.3.4",
    "1::2::3", "12345678-1234-1234-1234-123456789abc", "12345678-1234-1234-1234-123456789ABC",
    "{12345678-1234-1234-1234-123456789abc}", "urn:uuid:12345678-1234-1234-1234-123456789abc",
    "123456781234123412341234567890ab", "2024-02-29", "2023-02-29", "2024-2-29", "2024-13-01",
    "\u0662024-01-01", "2024-01-01T00:00:00Z", "0000-01-01",
]  # fmt: skip


@pytest.mark.parametrize("format_", sorted(SAME_FORMATS))
def test_served_formats_accept_nothing_jsonschema_refuses(format_: str) -> None:
    validator = build_validator(Path("q.queue.json"), {"type": "string", "format": format_})
    assert validator.fast is not None
    for text in EDGES:
        _agree(validator, text)


def test_a_valid_message_is_accepted_without_jsonschema() -> None:
    schema = json.loads((ROOT / "bench/queues/bench.queue.json").read_text())["incoming"]
    built = build_validator(Path("bench.queue.json"), schema["schema"])
    assert built.fast is not None

    class Refusing:
        def iter_errors(self, instance: Any) -> Any:
            raise AssertionError("jsonschema was called for a valid message")

    validator = SchemaValidator(checker=Refusing(), fast=built.fast)  # type: ignore[arg-type]
    assert validation_errors(validator, {"hello": "x", "n": 1}) == []


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "string", "pattern": "^a"},
        {"patternProperties": {"^a": {}}},
        {"type": "number", "multipleOf": 0.5},
        {"type": "string", "format": "regex"},
        {"type": "string", "format": "date"},
        {"$ref": "https://example.com/schema.json"},
        {"properties": {"a": {"$id": "https://example.com/a", "type": "string"}}},
        {"unevaluatedProperties": False},
        {"x-custom": 1},
        {"$schema": "http://json-schema.org/draft-04/schema#"},
        {"$schema": "https://example.com/my-dialect"},
    ],
    ids=_ids,
)
def test_schemas_outside_the_fast_path_are_left_to_jsonschema(schema: Any) -> None:
    assert build_validator(Path("q.queue.json"), schema).fast is None
