"""What the API's answers must look like: problem documents (RFC 9457), records, timestamps."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import aiohttp

RECORD_FIELDS = frozenset(
    {
        "id",
        "queue",
        "status",
        "request",
        "result",
        "error",
        "created_at",
        "updated_at",
        "attempts",
        "request_id",
        "not_before",
        "version",
        "progress",
        "history",
        "cancel_requested",
        "delivery",
        "lease",
    }
)


async def error_list(resp: aiohttp.ClientResponse, status: int) -> list[Any]:
    """Assert ``resp`` is ``status`` with an RFC 9457 problem document
    (``shared.platform.problems``); its ``errors``, each as its message, or as ``{"path",
    "message"}`` for one with a path."""
    text = await resp.text()
    assert resp.status == status, f"expected {status}, got {resp.status}: {text}"
    assert resp.content_type == "application/problem+json", (resp.content_type, text)
    return problem_items(json.loads(text), status)


def problem_items(body: Any, status: int) -> list[Any]:
    """Check a problem document's shape; its items as :func:`error_list` returns them."""
    assert isinstance(body, dict), body
    # A 403 also names the roles that would do (``gateway.auth.queue_access.forbidden``).
    extensions = {"required_roles"} if status == 403 else set()
    assert set(body) - extensions == {"type", "title", "status", "detail", "errors"}, body
    if "required_roles" in body:
        roles = body["required_roles"]
        assert roles and roles == sorted(roles) and all(isinstance(r, str) for r in roles), body
    assert body["type"] == "about:blank" and body["status"] == status, body
    assert isinstance(body["title"], str) and body["title"], body
    assert isinstance(body["detail"], str) and body["detail"], body
    errors = body["errors"]
    assert isinstance(errors, list) and errors, body
    for one in errors:
        assert isinstance(one, dict) and isinstance(one.get("message"), str), body
        assert set(one) <= {"path", "message"}, body
    text = json.dumps(body)
    assert "Traceback" not in text and 'File "' not in text, text
    return [one if "path" in one else one["message"] for one in errors]


def parse_ts(text: str) -> datetime:
    """An ISO-8601 UTC timestamp as the API writes it (``...Z``)."""
    assert text.endswith("Z"), text
    ts = datetime.fromisoformat(text[:-1] + "+00:00")
    assert ts.utcoffset() is not None
    return ts


def assert_record(record: Any, queue: str) -> None:
    """``record`` has exactly the public fields, a UUID4 id and sane types."""
    assert isinstance(record, dict), record
    assert set(record) == RECORD_FIELDS, sorted(record)
    parsed = uuid.UUID(record["id"])
    assert parsed.version == 4 and str(parsed) == record["id"], record["id"]
    assert record["queue"] == queue
    assert record["status"] in ("PENDING", "INPROGRESS", "COMPLETE", "ERROR", "CANCELLED")
    assert isinstance(record["attempts"], int) and record["attempts"] >= 0
    assert parse_ts(record["created_at"]) <= parse_ts(record["updated_at"])
