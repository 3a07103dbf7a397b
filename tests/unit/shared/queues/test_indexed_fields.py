"""``"x-conveyor-index": true`` marks: which fields a definition indexes, and the load errors
for a mark that cannot be honoured (each naming the property)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shared.queues.definitions import DefinitionError, parse_definition
from shared.queues.indexed_fields import MARK, FieldKind

PATH = Path("q.queue.json")


def load(schema: Any) -> dict[str, FieldKind]:
    return parse_definition(PATH, {"name": "q", "incoming": {"schema": schema}}).indexed


def prop(kind: Any, mark: Any = True) -> dict[str, Any]:
    return {"type": kind, MARK: mark}


def test_top_level_string_integer_and_boolean_properties_are_indexed_in_order() -> None:
    schema = {
        "type": "object",
        "properties": {
            "customer": prop("string"),
            "plain": {"type": "string"},
            "priority": prop("integer"),
            "off": prop("string", False),
            "urgent": prop("boolean"),
        },
    }
    indexed = load(schema)
    assert list(indexed.items()) == [
        ("customer", FieldKind.STRING),
        ("priority", FieldKind.INTEGER),
        ("urgent", FieldKind.BOOLEAN),
    ]


def test_a_schema_without_marks_indexes_nothing() -> None:
    assert load({"type": "object", "properties": {"a": {"type": "string"}}}) == {}
    assert load(True) == {}


@pytest.mark.parametrize(
    ("schema", "named"),
    [
        ({"properties": {"amount": prop("number")}}, "'amount'"),
        ({"properties": {"tags": prop("array")}}, "'tags'"),
        ({"properties": {"who": prop(["string", "null"])}}, "'who'"),
        ({"properties": {"untyped": {MARK: True}}}, "'untyped'"),
        ({"properties": {"a-b": prop("string")}}, "'a-b'"),
        (
            {"properties": {"address": {"type": "object", "properties": {"city": prop("string")}}}},
            "/properties/address/properties/city",
        ),
        ({"properties": {"list": {"type": "array", "items": prop("string")}}}, "list/items"),
        ({"anyOf": [{"properties": {"x": prop("string")}}]}, "/anyOf/0/properties/x"),
        ({"$defs": {"d": prop("string")}}, "/$defs/d"),
        ({MARK: True}, "(root)"),
        ({"properties": {"flag": prop("string", "yes")}}, "/properties/flag"),
    ],
)
def test_a_mark_on_anything_else_is_a_load_error_naming_it(schema: Any, named: str) -> None:
    with pytest.raises(DefinitionError) as caught:
        load(schema)
    assert MARK in caught.value.reason
    assert named in caught.value.reason
    assert caught.value.reason.startswith("incoming.schema: ")


def test_at_most_eight_fields() -> None:
    schema = {"properties": {f"f{i}": prop("string") for i in range(9)}}
    with pytest.raises(DefinitionError, match="at most 8"):
        load(schema)
