"""Searchable fields: a definition's ``"x-conveyor-index": true`` marks, read and checked.

A top-level property of a queue's ``incoming.schema`` declared with ``"type": "string"``,
``"integer"`` or ``"boolean"`` may carry ``"x-conveyor-index": true``: both stores then keep
an index on that field of the queue's message bodies, and ``GET /{queue}?where=field:value``
and the bulk actions filter on it (``shared.ports.operations.Search``). A mark anywhere else
(a nested or array item schema, a ``number``/``array``/``object`` property, one with no single
such ``type``, a combinator branch) or with a value other than ``true``/``false`` is a load
error naming the property, as is an indexed property whose name is not :data:`FIELD_RE` (the
name becomes part of an index name and of a JSON path).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from enum import StrEnum
from typing import Any

MARK = "x-conveyor-index"
#: The names an indexed property may have.
FIELD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}", re.ASCII)
#: The most fields one queue may index (each is an index on every push to the queue).
MAX_INDEXED = 8

#: Keywords whose value is one subschema, a map of them, or a list of them.
_ONE = (
    *("items", "not", "if", "then", "else", "additionalProperties", "contains"),
    *("propertyNames", "unevaluatedItems", "unevaluatedProperties", "additionalItems"),
)
_MAP = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_LIST = ("allOf", "anyOf", "oneOf", "prefixItems")


class FieldKind(StrEnum):
    """The JSON type of an indexed field, which types a searched value."""

    STRING = "string"
    INTEGER = "integer"
    BOOLEAN = "boolean"


class IndexMarkError(ValueError):
    """A mark that cannot be honoured; ``str()`` names the property and the reason."""


def _marked(schema: Any, where: str) -> Iterator[tuple[str, Any]]:
    """(path, mark value) of every mark in ``schema`` and its subschemas, the root's
    included (``where`` is the path of ``schema``)."""
    if not isinstance(schema, dict):
        return
    if MARK in schema:
        yield where, schema[MARK]
    for key in _ONE:
        yield from _marked(schema.get(key), f"{where}/{key}")
    for key in _MAP:
        sub = schema.get(key)
        if isinstance(sub, dict):
            for name, value in sub.items():
                yield from _marked(value, f"{where}/{key}/{name}")
    for key in _LIST:
        sub = schema.get(key)
        if isinstance(sub, list):
            for i, value in enumerate(sub):
                yield from _marked(value, f"{where}/{key}/{i}")
    items = schema.get("items")
    if isinstance(items, list):  # draft 4 to 2019-09 tuple form
        for i, value in enumerate(items):
            yield from _marked(value, f"{where}/items/{i}")


def indexed_fields(schema: Any) -> dict[str, FieldKind]:
    """The fields ``schema`` marks for indexing, by name, in schema order.

    Raises IndexMarkError for a mark that is not on a top-level string, integer or boolean
    property (see the module docstring)."""
    fields: dict[str, FieldKind] = {}
    for path, value in _marked(schema, ""):
        if not isinstance(value, bool):
            raise IndexMarkError(f"{MARK} at {path or '(root)'} must be true or false")
        if not value:
            continue
        name = path.removeprefix("/properties/")
        if name == path or "/" in name:
            raise IndexMarkError(
                f"{MARK} at {path or '(root)'}: only a top-level property of incoming.schema "
                "(properties/<name>) can be indexed"
            )
        kind = schema["properties"][name].get("type")
        if kind not in tuple(FieldKind):
            raise IndexMarkError(
                f'{MARK} on property {name!r}: it must be declared with "type": "string", '
                f'"integer" or "boolean" (not {kind!r})'
            )
        if FIELD_RE.fullmatch(name) is None:
            raise IndexMarkError(
                f"{MARK} on property {name!r}: an indexed property's name must match "
                f"{FIELD_RE.pattern}"
            )
        fields[name] = FieldKind(kind)
    if len(fields) > MAX_INDEXED:
        raise IndexMarkError(f"at most {MAX_INDEXED} properties may be indexed, not {len(fields)}")
    return fields
