"""A whole :class:`shared.domain.message.MessageRecord` as JSON and back, exactly.

The form a completion event carries its final record in (``shared.service.carried``): unlike
the HTTP answer (``MessageRecord.to_public``) it keeps ``error.traceback`` (the receiving
gateway filters it per caller like any record it read) and full microsecond timestamps, and
:func:`record_from_wire` rebuilds a record equal to the one written. No ``delivery``: it is
computed from the record.
"""

from __future__ import annotations

from datetime import datetime

from shared.domain.message import ErrorInfo, History, Json, MessageRecord, Progress, Status
from shared.domain.payloads import dumps_fast, loads_stored


def record_to_wire(record: MessageRecord) -> dict[str, Json]:
    """The JSON document of ``record`` (every field, ``error.traceback`` included)."""
    return {
        "id": record.id,
        "queue": record.queue,
        "status": record.status.value,
        "request": record.request,
        "result": record.result,
        "error": record.error.to_json() if record.error else None,
        "created_at": record.created_at.isoformat(),
        "updated_at": record.updated_at.isoformat(),
        "attempts": record.attempts,
        "request_id": record.request_id,
        "not_before": record.not_before.isoformat() if record.not_before else None,
        "version": record.version,
        "progress": record.progress.to_json() if record.progress else None,
        "history": record.history.to_json(),
        "cancel_requested": record.cancel_requested,
    }


def record_to_text(record: MessageRecord) -> str:
    """:func:`record_to_wire` as compact JSON text."""
    return dumps_fast(record_to_wire(record))


def record_from_wire(data: Json) -> MessageRecord:
    """The record of a :func:`record_to_wire` document.

    Raises ValueError, LookupError, TypeError or AttributeError on a malformed one."""
    not_before = data["not_before"]
    return MessageRecord(
        id=str(data["id"]),
        queue=str(data["queue"]),
        status=Status(data["status"]),
        request=data["request"],
        result=data["result"],
        error=ErrorInfo.from_json(data["error"]),
        created_at=datetime.fromisoformat(data["created_at"]),
        updated_at=datetime.fromisoformat(data["updated_at"]),
        attempts=int(data["attempts"]),
        request_id=data["request_id"],
        not_before=datetime.fromisoformat(not_before) if not_before else None,
        version=int(data["version"]),
        progress=Progress.from_json(data["progress"]),
        history=History.from_wire_text(dumps_fast(data["history"])),
        cancel_requested=bool(data["cancel_requested"]),
    )


def record_from_text(text: str) -> MessageRecord:
    """The record of :func:`record_to_text`'s text (raises as :func:`record_from_wire`)."""
    return record_from_wire(loads_stored(text))
