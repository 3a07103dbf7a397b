"""The MongoDB store's batched claims and final writes (``Claims.claim_many``, ``finish_many``).

One unordered ``bulk_write`` per batch (order does not matter: each item is a different
record), each item the very conditional single-document update of a single claim or final
write, so each stays atomic per record. A bulk write answers counts, not which items
matched, so every update also sets ``batch`` to a random id of its batch; a record carrying
it was written by this batch. Then:

- claims: one ``find`` of all the batch's records answers each (CLAIMED when it carries the
  batch id; else FINAL, BUSY, DEFERRED or GONE read from the document, as a single claim
  reads it);
- final writes: when every item matched, all are written (no read); otherwise one ``find``
  of the records carrying the batch id tells which. A result the server refuses (too large)
  fails its own item (``writeErrors``); one too large to send at all fails the whole bulk
  client-side, and the items not written are then retried one by one.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import UpdateOne
from pymongo.errors import BulkWriteError

from shared.adapters.mongo.connection import TOO_LARGE_CODES, Doc
from shared.adapters.mongo.documents import (
    INPROGRESS,
    PENDING,
    held,
    plus_one,
    put,
    put_error,
    status_write,
    to_record,
)
from shared.domain.message import Status
from shared.ports import Claim, ClaimOutcome, MessageRef, Outcome, StoreRejected, StoreUnavailable

#: The field each batched update sets to its batch's id.
BATCH = "batch"


def batch_id() -> str:
    """A new batch's id."""
    return uuid.uuid4().hex


def claimable(queue: str, message_id: str, now: datetime) -> Doc:
    """The filter of a record a claim at ``now`` takes: PENDING and due, or INPROGRESS with
    an expired lease."""
    due = [{"not_before": None}, {"not_before": {"$lte": now}}]  # not a waiting retry
    either = [
        {"status": PENDING, "$or": due},
        {"status": INPROGRESS, "lease_until": {"$lt": now}},
    ]
    return {"_id": message_id, "queue": queue, "$or": either}


def claim_update(owner: str, lease_until: datetime, now: datetime, batch: str | None) -> list[Doc]:
    """The update pipeline of a claim (``batch``: the batch id to stamp, if any)."""
    fields: Doc = {"status": INPROGRESS, "owner": owner, "lease_until": lease_until}
    fields |= {"updated_at": now, "published": True, "not_before": None, "progress": None}
    if batch is not None:
        fields[BATCH] = batch
    return status_write(
        fields, owner, attempt=plus_one("attempts"), plus=("attempts", "deliveries")
    )


def unclaimed(doc: Doc | None, now: datetime) -> Claim | None:
    """What a claim at ``now`` answers for a record it did not claim; None when the record is
    claimable after all (released, or its lease ran out, since): claim it again."""
    if doc is None:
        return Claim(ClaimOutcome.GONE)
    record = to_record(doc)
    if record.status.final:
        return Claim(ClaimOutcome.FINAL, record)
    lease, not_before = doc.get("lease_until"), doc.get("not_before")
    if record.status is Status.INPROGRESS and (lease is None or lease >= now):
        return Claim(ClaimOutcome.BUSY, record)
    if record.status is Status.PENDING and not_before is not None and not_before > now:
        return Claim(ClaimOutcome.DEFERRED, record, not_before)
    return None


def claim_ops(
    refs: Sequence[MessageRef], owner: str, lease_until: datetime, now: datetime, batch: str
) -> list[UpdateOne]:
    """One conditional update per ref (each ref once)."""
    update = claim_update(owner, lease_until, now, batch)
    return [UpdateOne(claimable(r.queue, r.id, now), update) for r in refs]


def final_fields(outcome: Outcome, now: datetime) -> Doc:
    """The fields a final write sets."""
    return {
        "status": outcome.status.value,
        **put("result", outcome.result),
        **put_error(outcome.error),
        "updated_at": now,
        "expires_at": outcome.expires_at,
        "owner": None,
        "lease_until": None,
    }


def finish_ops(
    items: Sequence[tuple[MessageRef, Outcome]], owner: str, now: datetime, batch: str
) -> list[UpdateOne]:
    """One conditional final write per item (each ref once)."""
    return [
        UpdateOne(
            held(ref.queue, ref.id, owner),
            status_write(final_fields(outcome, now) | {BATCH: batch}, owner),
        )
        for ref, outcome in items
    ]


def first_of_each(items: Sequence[tuple[MessageRef, Outcome]]) -> list[tuple[MessageRef, Outcome]]:
    """``items`` with only the first item of each ref."""
    first: dict[MessageRef, Outcome] = {}
    for ref, outcome in items:
        first.setdefault(ref, outcome)
    return list(first.items())


def refused(exc: BulkWriteError, refs: Sequence[MessageRef]) -> dict[MessageRef, StoreRejected]:
    """The items of a bulk write the server refused as too large, by ref (``refs``: the
    bulk's, in order). Raises StoreUnavailable for any other failure."""
    details = exc.details
    errors = details.get("writeErrors") or []
    if details.get("writeConcernErrors") or any(
        e.get("code") not in TOO_LARGE_CODES for e in errors
    ):
        raise StoreUnavailable(f"mongodb: {exc}") from exc
    return {refs[e["index"]]: StoreRejected(f"mongodb: {e.get('errmsg')}") for e in errors}


def by_ref(docs: Sequence[Doc]) -> dict[MessageRef, Doc]:
    """Documents keyed by their ref."""
    return {MessageRef(doc["queue"], doc["_id"]): doc for doc in docs}


def in_order(refs: Sequence[MessageRef], answer: dict[MessageRef, Any], repeat: Any) -> list[Any]:
    """The answer of each of ``refs`` in order; a ref's later copies get ``repeat(first)``."""
    out: list[Any] = []
    seen: set[MessageRef] = set()
    for ref in refs:
        out.append(repeat(answer[ref]) if ref in seen else answer[ref])
        seen.add(ref)
    return out
