"""JSON body parsing and schema-error reporting shared by the gateway and ``ctx.messaging``."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from jsonschema.protocols import Validator

from shared.records import Json


class BadJson(ValueError):
    """The body is not strict JSON (not UTF-8, malformed, or NaN/Infinity)."""


def _reject_constant(name: str) -> Any:
    raise BadJson(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise BadJson(f"number {text[:40]} is out of range")
    return value


# A \uD800-\uDFFF escape: only then can the parsed text hold a lone surrogate.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def parse_json(body: bytes) -> Json:
    """Parse a request body as strict UTF-8 JSON. Raises BadJson with a client-safe reason.

    Rejects what is not interoperable JSON: NaN/Infinity, numbers that overflow a double,
    and strings with lone UTF-16 surrogates (they cannot be stored as UTF-8).
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadJson(f"body is not UTF-8: {exc.reason} at byte {exc.start}") from None
    try:
        value = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
        if _SURROGATE_ESCAPE.search(text):
            dumps(value).encode("utf-8")
        return value
    except UnicodeEncodeError:
        raise BadJson("string holds a lone UTF-16 surrogate escape") from None
    except json.JSONDecodeError as exc:
        raise BadJson(f"malformed JSON: {exc.msg} at line {exc.lineno} col {exc.colno}") from None
    except RecursionError:
        raise BadJson("JSON nested too deeply") from None


def json_path(parts: Any) -> str:
    """A JSON path like ``$.items[2].name`` for a jsonschema ``absolute_path``."""
    path = "$"
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def validation_errors(validator: Validator, instance: Json) -> list[dict[str, str]]:
    """Every schema violation of ``instance`` as ``{"path", "message"}``, in document order."""
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path)))
    return [{"path": json_path(e.absolute_path), "message": e.message} for e in errors]


def dumps(value: Json) -> str:
    """Serialise for storage: strict JSON (no NaN), compact. Raises ValueError/TypeError."""
    return json.dumps(value, allow_nan=False, separators=(",", ":"), ensure_ascii=False)
