"""Hypothesis strategies for JSON values that (mostly) fit a JSON Schema, and arbitrary ones.

``fitting(schema)`` follows the keywords the queue schemas use (type, properties, required,
items, prefixItems, enum, const, bounds, lengths, anyOf/oneOf/allOf, local ``$ref`` and the
formats in :data:`FORMAT_SAMPLES`); anything else is drawn from :data:`JSON`. Not every value
fits (``not``, ``if``/``then``, ``uniqueItems`` are not steered): callers filter with the
validator. hypothesis-jsonschema would do this, but its 0.23.1 does not run on Hypothesis 6.170.
"""

from __future__ import annotations

import math
from typing import Any

from hypothesis import strategies as st

JSON: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=12,
)
#: Valid strings per format, and near misses (both libraries must judge them alike).
FORMAT_SAMPLES = {
    "uuid": ["12345678-1234-1234-1234-123456789abc", "ABCDEF01-2345-6789-ABCD-EF0123456789"],
    "date": ["2024-02-29", "1999-12-31", "0001-01-01", "0000-01-01"],
    "email": ["a@b.c", "first.last@example.com", "x+y@[127.0.0.1]"],
    "idn-email": ["a@b.c", "用户@例子.广告"],
    "ipv4": ["1.2.3.4", "255.255.255.255", "0.0.0.0"],
    "ipv6": ["::1", "fe80::1", "::ffff:1.2.3.4", "2001:db8::8a2e:370:7334"],
}


def _local(root: Any, ref: str) -> Any:
    node = root
    for part in ref.lstrip("#").split("/")[1:]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def _number(schema: dict[str, Any], integer: bool) -> st.SearchStrategy[Any]:
    low, high = schema.get("minimum"), schema.get("maximum")
    open_low, open_high = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    if isinstance(open_low, (int, float)) and not isinstance(open_low, bool):
        low = open_low
    if isinstance(open_high, (int, float)) and not isinstance(open_high, bool):
        high = open_high
    ints = st.integers(
        min_value=None
        if low is None
        else math.floor(low) + 1
        if low == open_low
        else math.ceil(low),
        max_value=None
        if high is None
        else math.ceil(high) - 1
        if high == open_high
        else math.floor(high),
    )
    if integer:
        return ints
    return ints | st.floats(
        min_value=low,
        max_value=high,
        exclude_min=low is not None and low == open_low,
        exclude_max=high is not None and high == open_high,
        allow_nan=False,
        allow_infinity=False,
    )


def _object(root: Any, schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    properties = schema.get("properties", {})
    required = [k for k in schema.get("required", []) if k in properties]
    optional = [k for k in properties if k not in required]
    fixed = st.fixed_dictionaries(
        {k: fitting(properties[k], root) for k in required},
        optional={k: fitting(properties[k], root) for k in optional},
    )
    missing = {k: None for k in schema.get("required", []) if k not in properties}
    if schema.get("additionalProperties", True) is False:
        return fixed
    extra = st.dictionaries(st.text(max_size=2), JSON, max_size=3)
    return st.tuples(extra, fixed).map(lambda pair: {**pair[0], **missing, **pair[1]})


def _array(root: Any, schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    prefix = [fitting(s, root) for s in schema.get("prefixItems", [])]
    rest = schema.get("items", True)
    low = max(schema.get("minItems", 0) - len(prefix), 0)
    high = max(schema.get("maxItems", low + len(prefix) + 3) - len(prefix), low)
    tail = st.lists(fitting(rest, root), min_size=low, max_size=high)
    return st.tuples(*prefix).flatmap(lambda head: tail.map(lambda t: [*head, *t]))


def _typed(root: Any, schema: dict[str, Any], kind: str) -> st.SearchStrategy[Any]:
    if kind == "object":
        return _object(root, schema)
    if kind == "array":
        return _array(root, schema)
    if kind == "string":
        if schema.get("format") in FORMAT_SAMPLES:
            return st.sampled_from(FORMAT_SAMPLES[schema["format"]])
        low = schema.get("minLength", 0)
        return st.text(min_size=low, max_size=schema.get("maxLength", low + 8))
    if kind in ("integer", "number"):
        return _number(schema, kind == "integer")
    return st.booleans() if kind == "boolean" else st.none()


def fitting(schema: Any, root: Any = None) -> st.SearchStrategy[Any]:
    """Values steered to fit ``schema`` (see the module doc); ``root`` resolves ``$ref``."""
    root = schema if root is None else root
    if not isinstance(schema, dict):
        return JSON
    if "$ref" in schema:
        return fitting(_local(root, schema["$ref"]), root)
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return st.one_of([fitting(s, root) for s in schema[key]])
    kind = schema.get("type")
    if kind is None:
        kind = "object" if "properties" in schema else "array" if "items" in schema else None
    if kind is None:
        return JSON
    kinds = kind if isinstance(kind, list) else [kind]
    return st.one_of([_typed(root, schema, k) for k in kinds])
