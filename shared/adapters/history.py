"""How stores keep a record's ``version``, ``progress`` and ``history`` (``shared.domain.message``).

SQLite keeps ``history`` and ``progress`` as JSON text (times as ISO-8601 text) and appends
to ``history`` inside the very ``UPDATE`` that changes the status, with SQLite's JSON
functions (:data:`SQLITE_STATUS_WRITE`), so the status and its transition are one atomic
write. MongoDB keeps them as sub-documents (times as BSON dates) and appends in the very
update pipeline that changes the status (``shared.adapters.mongo.documents.status_write``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from shared.adapters.record_fields import to_epoch
from shared.domain.message import HISTORY_LIMIT, History, Progress, Status, Transition, iso

#: SQLite: the SET clause of a status write (parameters: time as epoch seconds, status,
#: consumer); the attempt is the SQL expression ``{attempt}`` (``attempts`` of the row before
#: the update, by default). Pure SQL (SQLite's JSON functions), so a status write never calls
#: back into Python from the database thread (a Python function there takes the GIL on every
#: write; see bench/README.md); SQLite also writes the time as text (``strftime``: the very text
#: of ``shared.domain.message.iso`` for a time in whole milliseconds), on its thread, without
#: the GIL.
_STATUS_WRITE = (
    "version = COALESCE(version, 0) + 1, history = json_insert("
    f"CASE WHEN json_array_length(COALESCE(history, '[]')) >= {HISTORY_LIMIT}"
    " THEN json_remove(history, '$[0]') ELSE COALESCE(history, '[]') END,"
    " '$[#]', json_object('at', strftime('%Y-%m-%dT%H:%M:%fZ', ?, 'unixepoch'),"
    " 'status', {status}, 'attempt', COALESCE({attempt}, 0), 'consumer', ?))"
)
SQLITE_STATUS_WRITE = _STATUS_WRITE.replace("{status}", "?")


def sqlite_status_write_of(status: str) -> str:
    """:data:`SQLITE_STATUS_WRITE` (recording the row's current ``attempts``) with the new
    status taken from the SQL expression ``status`` (one status per row of a batched write):
    parameters time and consumer only."""
    return _STATUS_WRITE.format(attempt="attempts", status=status)


def _entry_text(at: str, status: str, attempt: int, consumer: str | None) -> str:
    """One transition as JSON text, keys in a fixed order (built directly: this runs for
    every inserted record)."""
    who = "null" if consumer is None else json.dumps(consumer)
    # ``at`` (ISO-8601) and ``status`` (a Status value) never need escaping.
    return f'{{"at":"{at}","status":"{status}","attempt":{int(attempt)},"consumer":{who}}}'


def status_params(at: datetime, status: Status, consumer: str | None) -> tuple[Any, ...]:
    """The parameters of :data:`SQLITE_STATUS_WRITE` (``at`` in whole milliseconds, as
    ``shared.domain.message.utcnow`` gives)."""
    return (to_epoch(at), status.value, consumer)


def history_to_text(history: Sequence[Transition]) -> str:
    """The SQLite form of a whole history (a new record's)."""
    entries = (_entry_text(iso(t.at), t.status.value, t.attempt, t.consumer) for t in history)
    return f"[{','.join(entries)}]"


def history_from_text(text: str | None) -> History:
    """The SQLite form as a :class:`History` (parsed when read; the SQLite form is the wire
    form); NULL (a record from before histories) is empty."""
    return History.from_wire_text(text)


def progress_to_text(progress: Progress) -> str:
    """The SQLite form of a progress report."""
    return json.dumps(progress.to_json(), separators=(",", ":"))


def progress_from_text(text: str | None) -> Progress | None:
    """Parse the SQLite form; NULL is None."""
    return Progress.from_json(json.loads(text)) if text else None


def mongo_entry(transition: Transition) -> dict[str, Any]:
    """A transition as MongoDB keeps it (``at`` a BSON date)."""
    entry = transition.to_json()
    entry["at"] = transition.at
    return entry


def mongo_history(entries: Sequence[Mapping[str, Any]] | None) -> History:
    """Parse MongoDB's form (dates already ``datetime``)."""
    return History(
        Transition(e["at"], Status(e["status"]), int(e.get("attempt") or 0), e.get("consumer"))
        for e in entries or ()
    )


def mongo_progress(doc: Mapping[str, Any] | None) -> Progress | None:
    """Parse MongoDB's form of a progress report (``at`` a date)."""
    if not doc:
        return None
    note = doc.get("note")
    return Progress(float(doc["fraction"]), None if note is None else str(note), doc["at"])
