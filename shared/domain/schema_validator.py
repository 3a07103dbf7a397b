"""A queue's message validator: jsonschema's verdict, with a compiled fast path for valid messages.

jsonschema (pure Python) decides and words every error. jsonschema-rs (compiled) answers the
common case first: a message it finds valid is accepted without calling jsonschema. It is used
only where its "valid" is known to be jsonschema's too; anywhere else (and whenever it finds a
message invalid, or fails) jsonschema alone decides, so verdicts and 422 errors are exactly
jsonschema's. tests/unit/shared/domain/test_schema_validator.py checks the agreement on every
shipped schema.

The fast path is compiled only for drafts 2020-12, 2019-09, 7 and 6, and only when every
keyword of the schema is in :data:`PLAIN`, an applicator below, or ``format`` with a format
jsonschema's checker does not check or one of :data:`SAME_FORMATS`. Left out, because the two
libraries can disagree in the unsafe direction: ``pattern``/``patternProperties`` and
``format: regex`` (ECMA vs Python regular expressions: ``\\D`` and non-ASCII digits),
``multipleOf`` (exact vs floating-point division: 0.07 is a multiple of 0.01 for one only),
``format: date`` (jsonschema-rs accepts the year 0000, Python's ``date`` does not),
``$ref`` outside the document, ``$id`` below the root, ``$dynamicRef``/``$recursiveRef`` and
``unevaluated*``, and any keyword not listed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import jsonschema
import jsonschema_rs
from jsonschema.exceptions import ValidationError
from jsonschema.protocols import Validator

from shared.domain.message import Json

#: jsonschema's validator class → jsonschema-rs's, for the drafts the fast path serves.
_DRAFTS: dict[type[Validator], type[jsonschema_rs.Validator]] = {
    jsonschema.Draft202012Validator: jsonschema_rs.Draft202012Validator,
    jsonschema.Draft201909Validator: jsonschema_rs.Draft201909Validator,
    jsonschema.Draft7Validator: jsonschema_rs.Draft7Validator,
    jsonschema.Draft6Validator: jsonschema_rs.Draft6Validator,
}
#: Formats jsonschema-rs accepts only where jsonschema's checker does too (tested with
#: tests/unit/shared/domain/test_schema_validator.py; ``date`` is not: module doc).
SAME_FORMATS = frozenset({"email", "idn-email", "ipv4", "ipv6", "uuid"})
#: Keywords whose value is not a schema, checked alike by both libraries.
PLAIN = frozenset(
    {
        "type", "enum", "const", "required", "minimum", "maximum", "exclusiveMinimum",
        "exclusiveMaximum", "minLength", "maxLength", "minItems", "maxItems", "uniqueItems",
        "minProperties", "maxProperties", "dependentRequired", "minContains", "maxContains",
        "$schema", "$comment", "$anchor", "title", "description", "default", "examples",
        "deprecated", "readOnly", "writeOnly",
        # Conveyor's own annotation (shared.queues.indexed_fields): no assertion in either.
        "x-conveyor-index",
    }
)  # fmt: skip
_ONE = frozenset(
    {"not", "if", "then", "else", "additionalItems", "additionalProperties", "contains"}
    | {"propertyNames"}
)
_LIST = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
_MAP = frozenset({"properties", "$defs", "definitions", "dependentSchemas"})


def _subschemas(key: str, value: Any) -> list[Any] | None:
    """The subschemas under keyword ``key``; None if ``key`` is not one the fast path serves."""
    if key in PLAIN:
        return []
    if key in _ONE:
        return [value]
    if key == "items":
        return value if isinstance(value, list) else [value]
    if key in _LIST and isinstance(value, list):
        return value
    if key in _MAP and isinstance(value, dict):
        return list(value.values())
    if key == "dependencies" and isinstance(value, dict):  # drafts 6/7: arrays or schemas
        return [v for v in value.values() if not isinstance(v, list)]
    return None


def _servable(schema: Json, checked_formats: frozenset[str], root: bool = True) -> bool:
    """True if every keyword in ``schema`` is one both libraries check alike (module doc)."""
    if isinstance(schema, bool):
        return True
    if not isinstance(schema, dict):
        return False
    for key, value in schema.items():
        if key == "format":
            if not isinstance(value, str):
                return False
            if value in checked_formats and value not in SAME_FORMATS:
                return False
            continue
        if key == "$ref":
            if not (isinstance(value, str) and value.startswith("#")):
                return False
            continue
        if key == "$id" and root:
            continue
        children = _subschemas(key, value)
        if children is None:
            return False
        if not all(_servable(child, checked_formats, root=False) for child in children):
            return False
    return True


def _refuse(uri: str) -> Json:
    raise LookupError(f"no remote schemas: {uri}")


def compile_fast(schema: Json, cls: type[Validator]) -> jsonschema_rs.Validator | None:
    """A jsonschema-rs validator agreeing with ``cls(schema)`` on what is valid, or None
    when the schema is outside the fast path (module doc) or jsonschema-rs refuses it."""
    rs_cls = _DRAFTS.get(cls)
    if rs_cls is None:
        return None
    dialect = schema.get("$schema") if isinstance(schema, dict) else None
    own = str(cls.META_SCHEMA.get("$id", "")).rstrip("#")
    if dialect is not None and str(dialect).rstrip("#") != own:
        return None  # a custom or mismatched $schema: jsonschema alone
    if not _servable(schema, frozenset(cls.FORMAT_CHECKER.checkers)):
        return None
    try:
        return rs_cls(schema, validate_formats=True, retriever=_refuse)
    except Exception:  # any build error (jsonschema-rs's own types vary): jsonschema decides
        return None


@dataclass(frozen=True, slots=True)
class SchemaValidator:
    """jsonschema's ``checker`` for ``schema``, with jsonschema-rs's ``fast`` (or None)."""

    checker: Validator
    fast: jsonschema_rs.Validator | None = None

    def fast_accepts(self, instance: Json) -> bool:
        """True if the compiled fast path finds ``instance`` valid (then jsonschema would)."""
        if self.fast is None:
            return False
        try:
            return self.fast.is_valid(instance)
        except Exception:  # a value it cannot take (too deep, ...): jsonschema decides
            return False

    def is_valid(self, instance: Json) -> bool:
        """jsonschema's verdict on ``instance``."""
        return self.fast_accepts(instance) or self.checker.is_valid(instance)

    def iter_errors(self, instance: Json) -> Iterator[ValidationError]:
        """jsonschema's errors for ``instance``."""
        return self.checker.iter_errors(instance)
