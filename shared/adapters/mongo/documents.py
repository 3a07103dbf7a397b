"""The MongoDB store's document codec: a message document ↔ a :class:`MessageRecord`, and
the update pipeline of a status write.

No port of its own: what the parts implementing ``Records``, ``Claims`` and ``Recovery``
(``records``, ``claims``, ``sweeps``) share to read and write documents (the fields are
listed in ``collection``'s docstring).

JSON values (``request``, ``result``, ``error``) are stored as native BSON when that is
exact, so they stay queryable, and otherwise as JSON text in a ``<field>_json`` sibling (the
native field is then null). BSON cannot hold integers beyond int64, strings with lone
surrogates or keys containing NUL, and MongoDB restricts keys that are empty, start with
``$`` or contain ``.`` (update operators and queries treat them specially) and nesting depth.
A message the gateway accepted is therefore never refused or altered: reading gives back
exactly the value written, in either form (the text form is ASCII-escaped ``json``): see
:func:`put`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from bson.int64 import Int64

from shared.adapters.history import mongo_entry, mongo_history, mongo_progress
from shared.domain.message import HISTORY_LIMIT, ErrorInfo, Json, MessageRecord, Status, utcnow

Doc = dict[str, Any]

MAX_NATIVE_DEPTH = 32  # MongoDB refuses documents nested deeper than 100 levels
INT64 = 1 << 63
PENDING, INPROGRESS = Status.PENDING.value, Status.INPROGRESS.value


def _utf8(text: str) -> bool:
    """False for strings with lone surrogates (``json`` reads ``"\\ud800"`` as one)."""
    try:
        return text.isascii() or bool(text.encode("utf-8"))
    except UnicodeEncodeError:
        return False


def _safe_key(key: str) -> bool:
    return key != "" and key[0] != "$" and "." not in key and "\x00" not in key and _utf8(key)


def _native(value: Json, depth: int = 0) -> bool:
    """True if ``value`` survives a BSON round trip exactly, on any MongoDB."""
    if value is None or isinstance(value, bool | float):
        return True
    if isinstance(value, int):
        return -INT64 <= value < INT64
    if isinstance(value, str):
        return _utf8(value)
    if depth >= MAX_NATIVE_DEPTH:
        return False
    if isinstance(value, list):
        return all(_native(item, depth + 1) for item in value)
    if isinstance(value, dict):
        return all(_safe_key(k) and _native(v, depth + 1) for k, v in value.items())
    return False


def put(name: str, value: Json) -> Doc:
    """The fields storing ``value``: native ``name``, or JSON text in ``name_json``."""
    if _native(value):
        return {name: value, f"{name}_json": None}
    return {name: None, f"{name}_json": json.dumps(value, separators=(",", ":"))}


def searchable(value: Json) -> Json:
    """What a non-native ``request`` keeps natively beside its text, for search
    (``shared.adapters.mongo.search``): its top-level string, number and boolean fields
    that are native (None unless ``value`` is an object). Readers take the text."""
    if not isinstance(value, dict):
        return None
    scalars = (str, int, float, bool)
    return {
        k: v for k, v in value.items() if isinstance(v, scalars) and _safe_key(k) and _native(v)
    }


def _plain(value: Any) -> Json:
    """A decoded BSON value as ``json.loads`` gives it (``Int64`` becomes ``int``)."""
    if isinstance(value, Int64):
        return int(value)
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _take(doc: Mapping[str, Any], name: str) -> Json:
    text = doc.get(f"{name}_json")
    return json.loads(text) if text is not None else _plain(doc.get(name))


def put_error(error: ErrorInfo | None) -> Doc:
    """The fields storing ``error`` (see :func:`put`)."""
    return put("error", error.to_json() if error else None)


def to_record(doc: Mapping[str, Any]) -> MessageRecord:
    """The record of a message document."""
    return MessageRecord(
        id=doc["_id"],
        queue=doc["queue"],
        status=Status(doc["status"]),
        request=_take(doc, "request"),
        result=_take(doc, "result"),
        error=ErrorInfo.from_json(_take(doc, "error")),
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
        attempts=int(doc.get("attempts", 0)),
        request_id=doc.get("request_id"),
        not_before=doc.get("not_before"),
        version=int(doc.get("version") or 0),
        progress=mongo_progress(doc.get("progress")),
        history=mongo_history(doc.get("history")),
        cancel_requested=bool(doc.get("cancel_requested", False)),
        owner=doc.get("owner"),
        lease_until=doc.get("lease_until"),
    )


def new_doc(record: MessageRecord) -> Doc:
    """The document an insert writes for a new record."""
    doc: Doc = {"_id": record.id, "queue": record.queue, "status": record.status.value}
    doc |= put("request", record.request) | put("result", record.result)
    if doc["request"] is None and doc["request_json"] is not None:
        doc["request"] = searchable(record.request)
    doc |= put_error(record.error)
    doc |= {"created_at": record.created_at, "updated_at": record.updated_at}
    doc |= {"attempts": record.attempts, "owner": None, "lease_until": None, "published": False}
    doc |= {"request_id": record.request_id, "not_before": record.not_before}
    doc |= {"version": record.version, "progress": None}
    doc["history"] = [mongo_entry(t) for t in record.history]
    return doc


def plus_one(field: str) -> Doc:
    """Pipeline expression: the document's ``field`` (missing: 0) plus one."""
    return {"$add": [{"$ifNull": [f"${field}", 0]}, 1]}


def status_write(
    fields: Doc, consumer: str | None, *, attempt: Any = "$attempts", plus: Sequence[str] = ()
) -> list[Doc]:
    """The update pipeline of a status write: set ``fields`` (taken literally), add one to
    ``version`` and to each of ``plus``, and append the transition to ``fields["status"]``,
    at ``fields["updated_at"]``, with the attempt expression ``attempt`` (evaluated on the
    document before the write) to ``history``, keeping the last ``HISTORY_LIMIT``."""
    entry = {
        "at": {"$literal": fields["updated_at"]},
        "status": {"$literal": fields["status"]},
        "attempt": {"$ifNull": [attempt, 0]},
        "consumer": {"$literal": consumer},
    }
    history = {"$concatArrays": [{"$ifNull": ["$history", []]}, [entry]]}
    stage: Doc = {key: {"$literal": value} for key, value in fields.items()}
    stage |= {name: plus_one(name) for name in ("version", *plus)}
    stage["history"] = {"$slice": [history, -HISTORY_LIMIT]}
    return [{"$set": stage}]


def held(queue: str, message_id: str, owner: str) -> Doc:
    """The filter of a message still INPROGRESS under ``owner``."""
    return {"_id": message_id, "queue": queue, "owner": owner, "status": INPROGRESS}


def released() -> Doc:
    """The fields of a message put back to PENDING, as of now."""
    return {"status": PENDING, "owner": None, "lease_until": None, "updated_at": utcnow()}
