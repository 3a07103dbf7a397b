"""Error bodies: RFC 9457 problem details, one shape for every error a Conveyor HTTP server
gives (the gateway, and the metrics port's `/readyz`).

``Content-Type: application/problem+json``::

    {"type": "about:blank", "title": "Unprocessable Content", "status": 422,
     "detail": "$.hello: 1 is not of type 'string'",
     "errors": [{"path": "$.hello", "message": "1 is not of type 'string'"}]}

``type`` is ``about:blank`` (the status says what kind of problem it is), ``title`` the
status's phrase, ``detail`` one human-readable line. ``errors`` is an extension member that
lists every problem, each an object with a ``message`` and, for a schema violation, the
JSON ``path`` of the offending value. The same items appear in a batch answer's refused
items and in protocol-level errors (431, 414, 400) answered before any route runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import Any

PROBLEM_JSON = "application/problem+json"
#: How many items ``detail`` spells out before it only counts the rest.
DETAIL_ITEMS = 3

Item = dict[str, str]


def item(error: str | Mapping[str, Any]) -> Item:
    """One ``errors`` item: ``{"message"}``, or ``{"path", "message"}`` when it has a path."""
    if isinstance(error, Mapping):
        out = {"message": str(error.get("message", ""))}
        if error.get("path") is not None:
            out = {"path": str(error["path"]), **out}
        return out
    return {"message": str(error)}


def items(errors: Iterable[str | Mapping[str, Any]]) -> list[Item]:
    """``errors`` as problem items."""
    return [item(error) for error in errors]


def _line(one: Item) -> str:
    return f"{one['path']}: {one['message']}" if "path" in one else one["message"]


def title(status: int) -> str:
    """The status's standard phrase (``Error`` for a code Python does not know)."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem(status: int, errors: Iterable[str | Mapping[str, Any]]) -> dict[str, Any]:
    """The problem details document for ``status`` and ``errors`` (at least one)."""
    listed = items(errors) or [{"message": title(status)}]
    detail = "; ".join(_line(one) for one in listed[:DETAIL_ITEMS])
    if len(listed) > DETAIL_ITEMS:
        detail += f"; and {len(listed) - DETAIL_ITEMS} more"
    return {
        "type": "about:blank",
        "title": title(status),
        "status": status,
        "detail": detail,
        "errors": listed,
    }
