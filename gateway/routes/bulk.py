"""``POST /{queue}/bulk/{action}``: cancel, retry (redrive) or delete many messages at once.

``action`` is ``cancel``, ``retry`` or ``delete`` (else ``404``). The body selects the
messages (:data:`BODY_SCHEMA`): ``limit`` (required, 1 to 10,000), and optionally
``status``, ``created_before``/``created_after`` (RFC 3339 times with a zone, both
exclusive) and ``where`` (``["field:value", ...]`` on indexed body fields, as the listing's
``?where=``: ``gateway.http.where``). Answers ``200`` with ``{"acted": [ids], "skipped":
[{"id", "reason"}]}``, or with ``"dry_run": true`` ``{"count": N}``: how many messages the
same request would select now (nothing is changed); ``409`` while a ``where`` field's index
is being built; a body
that is not JSON is ``400``, one that breaks these rules ``422`` listing every problem with
its path. Roles as for redrive (``system_admin``, ``<queue>_admin``; anyone on a queue with
auth off). The logic is the messaging service's (``Messaging.bulk``). Each request is one
entry of the audit log (``gateway.auth.operators``): the filter, and how many were acted on.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from jsonschema import Draft202012Validator

from gateway.auth.operators import audited
from gateway.auth.queue_access import admin_roles
from gateway.http.errors import ApiError, json_response
from gateway.http.start_param import RFC3339
from gateway.http.where import MAX_TERMS, WhereError, parse_term
from gateway.routes.messages import RUNTIME, _read_json, resolve_queue
from gateway.routes.redrive import authorize_admin
from gateway.routes.spec import Doc, Route, guarded, json_body, problems
from shared.domain.audit_entry import AuditAction
from shared.domain.message import Status
from shared.domain.payloads import validation_errors
from shared.ports import FieldMatch
from shared.queues.indexed_fields import FieldKind
from shared.queues.registry import LoadedQueue
from shared.service import MAX_BULK, BulkAction, BulkFilter, ValidationFailed

#: The request body (also in the OpenAPI document).
BODY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "status": {"enum": [s.value for s in Status]},
        "created_before": {"type": "string", "format": "date-time"},
        "created_after": {"type": "string", "format": "date-time"},
        "limit": {"type": "integer", "minimum": 1, "maximum": MAX_BULK},
        "where": {"type": "array", "items": {"type": "string"}, "maxItems": MAX_TERMS},
        "dry_run": {"type": "boolean"},
    },
    "required": ["limit"],
    "additionalProperties": False,
}
_VALIDATOR = Draft202012Validator(BODY_SCHEMA)


def _time(body: dict[str, Any], name: str, problems: list[dict[str, str]]) -> datetime | None:
    raw = body.get(name)
    if raw is None:
        return None
    message = f"{name} must be an RFC 3339 time with a zone, not {raw!r}"
    if not RFC3339.fullmatch(raw.strip()):
        problems.append({"path": f"$.{name}", "message": message})
        return None
    try:
        return datetime.fromisoformat(raw.strip().replace("z", "Z")).astimezone(UTC)
    except (ValueError, OverflowError):
        problems.append({"path": f"$.{name}", "message": message})
        return None


def _where(
    body: dict[str, Any], indexed: Mapping[str, FieldKind], problems: list[dict[str, str]]
) -> tuple[FieldMatch, ...]:
    terms: list[FieldMatch] = []
    for i, raw in enumerate(body.get("where", [])):
        try:
            terms.append(parse_term(raw, indexed))
        except WhereError as exc:
            problems.append({"path": f"$.where[{i}]", "message": str(exc)})
    return tuple(terms)


def parse_filter(body: object, indexed: Mapping[str, FieldKind]) -> BulkFilter:
    """The filter a request body asks for (``where`` terms on the ``indexed`` fields);
    ValidationFailed (422) listing every problem."""
    problems = validation_errors(_VALIDATOR, body)
    if problems:
        raise ValidationFailed(problems)
    assert isinstance(body, dict)
    where = _where(body, indexed, problems)
    before, after = _time(body, "created_before", problems), _time(body, "created_after", problems)
    if before is not None and after is not None and after >= before:
        problems.append({"path": "$.created_after", "message": "must be before created_before"})
    if problems:
        raise ValidationFailed(problems)
    status = Status(body["status"]) if "status" in body else None
    return BulkFilter(int(body["limit"]), status, before, after, where)  # 5.0 is an integer too


def _action(raw: str) -> BulkAction:
    try:
        return BulkAction(raw)
    except ValueError:
        allowed = ", ".join(a.value for a in BulkAction)
        raise ApiError(404, f"unknown bulk action {raw!r} (one of: {allowed})") from None


async def bulk_action(request: web.Request) -> web.Response:
    """``POST /{queue}/bulk/{action}``: ``{"acted": [...], "skipped": [...]}``, or
    ``{"count": N}`` for a dry run."""
    queue = await resolve_queue(request)
    principal = await authorize_admin(request, queue)
    action = _action(request.match_info["action"])
    body = await _read_json(request)
    where = parse_filter(body, queue.definition.indexed)
    rt = request.app[RUNTIME]
    if isinstance(body, dict) and body.get("dry_run") is True:
        return json_response({"count": await rt.messaging.bulk_count(queue, where)})
    result = await rt.messaging.bulk(queue, action, where)
    done = AuditAction(f"bulk_{action.value}")
    await audited(rt.audit, principal, done, queue.name, where.to_public(), len(result.acted))
    return json_response(result.to_public())


#: ``POST /{queue}/bulk/{action}``'s answer (``shared.service.bulk.BulkResult``).
BULK_RESULT: Doc = {
    "type": "object",
    "required": ["acted", "skipped"],
    "properties": {
        "acted": {"type": "array", "items": {"type": "string"}},
        "skipped": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "reason"],
                "properties": {"id": {"type": "string"}, "reason": {"type": "string"}},
            },
        },
    },
}

#: A dry run's answer: how many messages the request selects.
DRY_RUN_RESULT: Doc = {
    "type": "object",
    "required": ["count"],
    "properties": {"count": {"type": "integer", "minimum": 0}},
}


def bulk_doc(queue: LoadedQueue) -> Doc:
    """``POST /{queue}/bulk/{action}``."""
    action = {"type": "string", "enum": ["cancel", "retry", "delete"]}
    answer = {"oneOf": [BULK_RESULT, DRY_RUN_RESULT]}
    acted = {"200": {"description": "Acted on and skipped ids", "content": json_body(answer)}}
    bulk = guarded(
        queue,
        "bulk",
        f"Cancel, retry (redrive) or delete many messages of {queue.name}",
        {**acted, **problems(400, 404, 409, 413, 415, 422, 503)},
        sorted(admin_roles(queue.name)),
    )
    bulk["requestBody"] = {"required": True, "content": json_body(BODY_SCHEMA)}
    bulk["parameters"] = [{"name": "action", "in": "path", "required": True, "schema": action}]
    return bulk


ROUTES = (Route("POST", "/{queue}/bulk/{action}", bulk_action, per_queue=bulk_doc),)
