"""The SQLite store's batched claims and final writes (``Claims.claim_many``, ``finish_many``).

Each batch is one function of the connection, run as ONE write of the group commit (one
savepoint, one future) however many messages it holds:

- claims: one ``UPDATE … WHERE id IN (…) AND (id, queue) IN (VALUES …) AND <claimable>
  RETURNING`` (the very condition of a single claim, so each record is claimed atomically and
  two claims of one record never both succeed), then one ``SELECT`` of the rows it did not
  claim, in the same transaction (nothing changes in between), telling DEFERRED, FINAL, BUSY
  and GONE apart;
- final writes: one ``UPDATE … FROM (VALUES …) WHERE … AND owner = ? AND status =
  'INPROGRESS' RETURNING``, whose rows say which were still held and are the records as the
  write left them (what completion events carry to the gateways' waiters).

A batch of one ref (every call when messages come one at a time) uses the same conditions
keyed on ``id = ? AND queue = ?`` instead: SQLite plans and runs the row-value ``IN (VALUES
…)`` forms at a cost a lone message should not pay (bench/README.md, "The lone request").
Refs are cut into chunks of :data:`CHUNK` to stay far below SQLite's limit on variables; a
ref listed twice is written once (the later copies answer as a repeated single call would).
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from shared.adapters.history import SQLITE_STATUS_WRITE, sqlite_status_write_of, status_params
from shared.adapters.record_fields import error_to_text, to_epoch
from shared.adapters.sqlite.rows import COLUMNS, json_text, row_to_record
from shared.domain.message import MessageRecord, Status
from shared.ports import Claim, ClaimOutcome, Finished, MessageRef, Outcome

#: Refs per statement (each takes 3 variables in a claim, 6 in a final write).
CHUNK = 500

_CLAIM_SET = (
    "UPDATE messages SET status = 'INPROGRESS', attempts = attempts + 1,"
    " deliveries = COALESCE(deliveries, 0) + 1, not_before = NULL,"
    " owner = ?, lease_until = ?, updated_at = ?, published = 1, progress = NULL,"
    f" {SQLITE_STATUS_WRITE.format(attempt='attempts + 1')}"
)
_CLAIMABLE = (
    " AND ((status = 'PENDING' AND (not_before IS NULL OR not_before <= ?))"
    " OR (status = 'INPROGRESS' AND lease_until < ?))"
    f" RETURNING {COLUMNS}"
)
_CLAIM = _CLAIM_SET + " WHERE id IN ({ids}) AND (id, queue) IN (VALUES {pairs})" + _CLAIMABLE
#: The claim of one ref: the same write and condition.
_CLAIM_ONE = _CLAIM_SET + " WHERE id = ? AND queue = ?" + _CLAIMABLE
_SELECT_ONE = f"SELECT {COLUMNS} FROM messages WHERE id = ? AND queue = ?"

_FINISH = (
    "UPDATE messages SET status = v.column3, result = v.column4, error = v.column5,"
    " updated_at = ?, expires_at = v.column6, owner = NULL, lease_until = NULL,"
    f" {sqlite_status_write_of('v.column3')}"
    " FROM (VALUES {rows}) AS v WHERE messages.id = v.column1 AND messages.queue = v.column2"
    " AND messages.owner = ? AND messages.status = 'INPROGRESS'"
    f" RETURNING {COLUMNS}"
)
#: The final write of one ref: the same write and condition.
_FINISH_ONE = (
    "UPDATE messages SET status = ?, result = ?, error = ?, updated_at = ?, expires_at = ?,"
    f" owner = NULL, lease_until = NULL, {sqlite_status_write_of('?')}"
    " WHERE id = ? AND queue = ? AND owner = ? AND status = 'INPROGRESS'"
    f" RETURNING {COLUMNS}"
)


def _chunks(refs: Sequence[MessageRef]) -> list[Sequence[MessageRef]]:
    return [refs[i : i + CHUNK] for i in range(0, len(refs), CHUNK)]


def _marks(n: int, width: int) -> str:
    row = "(" + ",".join("?" * width) + ")"
    return ",".join([row] * n)


@functools.lru_cache(maxsize=64)
def _claim_sql(n: int) -> str:
    """The claim statement for ``n`` refs (built once per size: one message at a time, it is
    always the same text, which also keeps SQLite's statement cache hitting)."""
    return _CLAIM.format(ids=",".join("?" * n), pairs=_marks(n, 2))


@functools.lru_cache(maxsize=64)
def _finish_sql(n: int) -> str:
    """The final-write statement for ``n`` items (built once per size)."""
    return _FINISH.format(rows=_marks(n, 6))


def _unclaimed(row: Sequence[Any] | None, at: datetime) -> Claim:
    """What a claim answers for a record it could not claim (``row``: None when absent)."""
    if row is None:
        return Claim(ClaimOutcome.GONE)
    record = row_to_record(row)
    if record.status is Status.PENDING:  # not claimable yet: a scheduled retry
        return Claim(ClaimOutcome.DEFERRED, record, record.not_before or at)
    return Claim(ClaimOutcome.FINAL if record.status.final else ClaimOutcome.BUSY, record)


def _claim_one(
    ref: MessageRef, head: tuple[Any, ...], now: float, at: datetime, c: sqlite3.Connection
) -> Claim:
    row = c.execute(_CLAIM_ONE, (*head, ref.id, ref.queue, now, now)).fetchone()
    if row is not None:
        return Claim(ClaimOutcome.CLAIMED, row_to_record(row))
    return _unclaimed(c.execute(_SELECT_ONE, (ref.id, ref.queue)).fetchone(), at)


def claim_batch(
    refs: Sequence[MessageRef],
    owner: str,
    lease_until: datetime,
    at: datetime,
    c: sqlite3.Connection,
) -> list[Claim]:
    """Claim ``refs`` for ``owner`` (see the module docstring); one answer per ref."""
    now = to_epoch(at)
    head = (owner, to_epoch(lease_until), now, *status_params(at, Status.INPROGRESS, owner))
    if len(refs) == 1:
        return [_claim_one(refs[0], head, now, at, c)]
    unique = list(dict.fromkeys(refs))
    claimed: dict[MessageRef, Claim] = {}
    for chunk in _chunks(unique):
        sql = _claim_sql(len(chunk))
        pairs = [v for r in chunk for v in (r.id, r.queue)]
        params = (*head, *(r.id for r in chunk), *pairs, now, now)
        for row in c.execute(sql, params).fetchall():
            record = row_to_record(row)
            claimed[MessageRef(record.queue, record.id)] = Claim(ClaimOutcome.CLAIMED, record)
    rest = [r for r in unique if r not in claimed]
    found: dict[MessageRef, Sequence[Any]] = {}
    for chunk in _chunks(rest):
        marks = ",".join("?" * len(chunk))
        sql = f"SELECT {COLUMNS} FROM messages WHERE id IN ({marks})"
        for row in c.execute(sql, [r.id for r in chunk]).fetchall():
            found[MessageRef(row[1], row[0])] = row
    answers: list[Claim] = []
    seen: set[MessageRef] = set()
    for ref in refs:
        claim = claimed.get(ref)
        if claim is None:
            answers.append(_unclaimed(found.get(ref), at))
        elif ref in seen:  # claimed by its first copy: a live lease now
            answers.append(Claim(ClaimOutcome.BUSY, claim.record))
        else:
            answers.append(claim)
        seen.add(ref)
    return answers


def finish_batch(
    items: Sequence[tuple[MessageRef, Outcome]], owner: str, at: datetime, c: sqlite3.Connection
) -> list[Finished]:
    """Write each outcome if ``owner`` still holds its ref; for each, whether it was written
    and the record as the write left it."""
    if len(items) == 1:
        return [_finish_one(*items[0], owner, at, c)]
    first: dict[MessageRef, Outcome] = {}
    for ref, outcome in items:
        first.setdefault(ref, outcome)
    unique = list(first.items())
    written: dict[MessageRef, MessageRecord | None] = {}
    for start in range(0, len(unique), CHUNK):
        chunk = unique[start : start + CHUNK]
        rows = [
            v
            for ref, outcome in chunk
            for v in (
                ref.id,
                ref.queue,
                outcome.status.value,
                json_text(outcome.result),
                error_to_text(outcome.error),
                to_epoch(outcome.expires_at) if outcome.expires_at else None,
            )
        ]
        params = (to_epoch(at), to_epoch(at), owner, *rows, owner)
        sql = _finish_sql(len(chunk))
        for row in c.execute(sql, params).fetchall():
            done = row_to_record(row)
            written[MessageRef(done.queue, done.id)] = done
    answers: list[Finished] = []
    for ref, _ in items:
        kept = written.pop(ref, None)  # a later copy of the same ref: not written again
        answers.append(Finished(kept is not None, kept))
    return answers


def _finish_one(
    ref: MessageRef, outcome: Outcome, owner: str, at: datetime, c: sqlite3.Connection
) -> Finished:
    params = (
        outcome.status.value,
        json_text(outcome.result),
        error_to_text(outcome.error),
        to_epoch(at),
        to_epoch(outcome.expires_at) if outcome.expires_at else None,
        to_epoch(at),
        outcome.status.value,
        owner,
        ref.id,
        ref.queue,
        owner,
    )
    row = c.execute(_FINISH_ONE, params).fetchone()
    return Finished(row is not None, row_to_record(row) if row is not None else None)
