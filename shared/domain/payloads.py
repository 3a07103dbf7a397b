"""JSON body parsing and schema-error reporting shared by the gateway and ``ctx.messaging``."""

from __future__ import annotations

import json
import logging
import math
import re
from typing import Any

import orjson
from jsonschema.protocols import Validator

from shared.domain.message import Json
from shared.domain.schema_validator import SchemaValidator

log = logging.getLogger(__name__)


#: Most digits an integer may have: Python's own default limit for int/str conversion, fixed
#: here so that raising the interpreter's limit (or lifting it with 0) does not let bodies
#: through whose conversion takes quadratic time.
MAX_INT_DIGITS = 4300


class BadJson(ValueError):
    """The body is not acceptable JSON: not UTF-8, malformed, NaN/Infinity, an integer of
    more than :data:`MAX_INT_DIGITS` digits, or nested deeper than allowed."""


def _reject_constant(name: str) -> Any:
    raise BadJson(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise BadJson(f"number {text[:40]} is out of range")
    return value


def _bounded_int(text: str) -> int:
    if len(text) - text.startswith("-") > MAX_INT_DIGITS:
        raise BadJson(f"integer too large: more than {MAX_INT_DIGITS} digits")
    try:
        return int(text)
    except ValueError:  # a lower interpreter-wide limit (PYTHONINTMAXSTRDIGITS)
        raise BadJson("integer too large") from None


def depth_exceeds(value: Json, max_depth: int) -> bool:
    """True if ``value`` nests arrays/objects more than ``max_depth`` levels deep.

    A scalar has depth 0, ``[]`` and ``{}`` depth 1, ``[[1]]`` depth 2. Iterative, so any
    depth is measured without recursion.
    """
    stack: list[tuple[Json, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth + 1 > max_depth:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


# A \uD800-\uDFFF escape: only then can the parsed text hold a lone surrogate.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
# 19 digits in a row: a number orjson might not keep exactly (it turns integers beyond
# 64 bits into floats), so such bodies take the standard library's path.
_LONG_DIGITS = re.compile(rb"\d{19}")


def _fast(body: bytes, max_depth: int) -> Json | None:
    """``body`` parsed by orjson when that gives exactly what :func:`parse_json`'s rules
    accept; None to let the standard library decide (and word the error)."""
    if _LONG_DIGITS.search(body):
        return None
    try:
        value: Json = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None  # NaN, 1e400, lone surrogates, bad UTF-8 ...: the slow path explains
    if depth_exceeds(value, max_depth):
        raise BadJson(f"JSON is nested deeper than {max_depth} levels")
    return value


def parse_json(body: bytes, max_depth: int) -> Json:
    """Parse a request body as strict UTF-8 JSON. Raises BadJson with a client-safe reason.

    Rejects what is not interoperable JSON: NaN/Infinity, numbers that overflow a double,
    and strings with lone UTF-16 surrogates (they cannot be stored as UTF-8); and what would
    be costly or unsafe to handle further: integers of more than :data:`MAX_INT_DIGITS`
    digits and values nested more than ``max_depth`` levels deep (see
    :func:`depth_exceeds`). Raises nothing else, whatever ``body`` holds.

    orjson parses what it can take exactly (most bodies); anything it refuses or might
    change goes through the standard library, which applies the rules and words the error.
    """
    fast = _fast(body, max_depth)
    if fast is not None:
        return fast
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadJson(f"body is not UTF-8: {exc.reason} at byte {exc.start}") from None
    try:
        value = json.loads(
            text,
            parse_constant=_reject_constant,
            parse_float=_finite_float,
            parse_int=_bounded_int,
        )
        if depth_exceeds(value, max_depth):
            raise BadJson(f"JSON is nested deeper than {max_depth} levels")
        if _SURROGATE_ESCAPE.search(text):
            dumps(value).encode("utf-8")
        return value
    except UnicodeEncodeError:
        raise BadJson("string holds a lone UTF-16 surrogate escape") from None
    except json.JSONDecodeError as exc:
        raise BadJson(f"malformed JSON: {exc.msg} at line {exc.lineno} col {exc.colno}") from None
    except RecursionError:  # deeper than the parser's own stack allows: far past max_depth
        raise BadJson(f"JSON is nested deeper than {max_depth} levels") from None


def json_path(parts: Any) -> str:
    """A JSON path like ``$.items[2].name`` for a jsonschema ``absolute_path``."""
    path = "$"
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


#: The one violation reported when validating would exhaust the stack (a recursive schema
#: descending into a deeply nested value).
TOO_DEEP_TO_VALIDATE = {"path": "$", "message": "the message is nested too deeply to validate"}


def validation_errors(
    validator: SchemaValidator | Validator, instance: Json
) -> list[dict[str, str]]:
    """Every schema violation of ``instance`` as ``{"path", "message"}``, in document order.

    A :class:`SchemaValidator`'s fast path answers a valid message; anything else is
    jsonschema's to judge and word. A value too deeply nested for the validator's recursion
    counts as one violation (:data:`TOO_DEEP_TO_VALIDATE`) rather than an error of the
    caller's.
    """
    if isinstance(validator, SchemaValidator) and validator.fast_accepts(instance):
        return []
    try:
        errors = sorted(
            validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path))
        )
        return [{"path": json_path(e.absolute_path), "message": e.message} for e in errors]
    except RecursionError:
        log.warning(
            "validation ran out of stack (a recursive schema on a deeply nested message);"
            " answered as a schema violation: lower --max-json-depth to refuse such bodies"
        )
        return [dict(TOO_DEEP_TO_VALIDATE)]


def dumps(value: Json) -> str:
    """Serialise for storage: strict JSON (no NaN), compact. Raises ValueError/TypeError."""
    return json.dumps(value, allow_nan=False, separators=(",", ":"), ensure_ascii=False)


_LONG_DIGITS_TEXT = re.compile(r"\d{19}")


def loads_stored(text: str) -> Json:
    """Parse JSON text that :func:`dumps` wrote: orjson when it gives exactly the same value
    (it turns integers beyond 64 bits into floats, and refuses lone surrogates), else the
    standard library."""
    if not _LONG_DIGITS_TEXT.search(text):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)


def dumps_fast(value: Any) -> str:
    """:func:`dumps` for answers: orjson when it can (same output for JSON values), the
    standard library for what it refuses (integers beyond 64 bits, lone surrogates)."""
    try:
        return orjson.dumps(value).decode("utf-8")
    except (orjson.JSONEncodeError, UnicodeDecodeError):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
