"""Fakes for unit tests (behaviour tests use the real adapters).

:class:`FakeDelivered` stands in for one :class:`shared.ports.Delivered`: it records every
settle call, can make them fail or wait, and, like the real adapters, refuses a second one.
:class:`FakeClaims` and :class:`FakeWorkQueue` stand in for the consumer's store and work
queue.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

from shared.domain.message import ErrorInfo, Json, MessageRecord, Status, utcnow
from shared.ports import (
    Cancel,
    CancelOutcome,
    Claim,
    ClaimOutcome,
    DeliveryCallback,
    Finished,
    MessageRef,
    Outcome,
    StoreRejected,
    StoreUnavailable,
)

Settle = Literal["ack", "requeue"]


@dataclass
class FakeDelivered:
    """One delivery of ``message_id`` on ``queue``; satisfies ``shared.ports.Delivered``.

    ``calls`` lists every settle call in order (a failing or second one included), so a test
    asserts ``calls == ["ack"]`` for "exactly one ack". ``fail`` is raised by every settle
    call after it is recorded (e.g. ``DeliveryUnavailable``: the channel is gone). ``gate``,
    when set, is awaited before a settle call is recorded (a slow broker); a cancelled wait
    records nothing. A second settle call raises ``RuntimeError``, as the real ones do.
    """

    message_id: str = "m-1"
    queue: str = "q"
    delivery_count: int = 0
    fail: Exception | None = None
    gate: asyncio.Event | None = None
    calls: list[Settle] = field(default_factory=list)
    _done: asyncio.Event = field(default_factory=asyncio.Event, init=False, repr=False)

    @property
    def settled(self) -> Settle | None:
        """The first settle call, or None while unsettled."""
        return self.calls[0] if self.calls else None

    async def wait_settled(self, within: float = 5.0) -> Settle:
        """Wait (at most ``within`` seconds) for the first settle call; which it was."""
        await asyncio.wait_for(self._done.wait(), within)
        assert self.settled is not None
        return self.settled

    async def ack(self) -> None:
        await self._settle("ack")

    async def requeue(self) -> None:
        await self._settle("requeue")

    async def _settle(self, what: Settle) -> None:
        if self.gate is not None:
            await self.gate.wait()
        self.calls.append(what)
        self._done.set()
        if len(self.calls) > 1:
            raise RuntimeError(f"delivery of {self.message_id} settled twice: {self.calls}")
        if self.fail is not None:
            raise self.fail


# --- a fake store (the Claims port) and work queue, for Consumer unit tests ------------


@dataclass
class FakeClaims:
    """An in-memory :class:`shared.ports.Claims`: one record per id, with scripted faults.

    ``claim_outcomes`` (if set) is consumed one per ``claim`` call before the real logic
    (e.g. ``[ClaimOutcome.BUSY]`` once); ``down`` lists the operations that raise
    ``StoreUnavailable`` while present (a test removes them to end the outage); ``rejected``
    makes ``finish`` raise ``StoreRejected`` for results other than ERROR, ``broken`` makes it
    raise ``StoreUnavailable`` for those ids; ``calls`` logs
    every call by name.
    """

    records: dict[str, MessageRecord] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    retries: dict[str, datetime] = field(default_factory=dict)
    claim_outcomes: list[ClaimOutcome] = field(default_factory=list)
    due: datetime | None = None
    down: set[str] = field(default_factory=set)
    rejected: bool = False
    #: Ids whose ``finish`` raises ``StoreUnavailable`` (their write alone cannot be done).
    broken: set[str] = field(default_factory=set)
    renew_delay: float = 0.0
    #: Seconds each claim takes (a store that stalls mid-call).
    claim_delay: float = 0.0
    calls: list[str] = field(default_factory=list)
    #: Ids whose cancel was requested (``cancel`` on a held record); ``renew`` reports them.
    cancel_flags: set[str] = field(default_factory=set)

    def add(self, queue: str, body: Json = None) -> MessageRecord:
        record = MessageRecord.new(queue, body if body is not None else {})
        self.records[record.id] = record
        return record

    def _enter(self, name: str) -> None:
        self.calls.append(name)
        if name in self.down:
            raise StoreUnavailable(f"test: {name} unavailable")

    async def claim(self, queue: str, message_id: str, owner: str, lease_until: datetime) -> Claim:
        self._enter("claim")
        await asyncio.sleep(self.claim_delay)
        record = self.records.get(message_id)
        scripted = self.claim_outcomes.pop(0) if self.claim_outcomes else None
        if scripted is ClaimOutcome.DEFERRED:
            return Claim(ClaimOutcome.DEFERRED, record, self.due or utcnow())
        if scripted is not None:
            return Claim(scripted, record)
        if record is None:
            return Claim(ClaimOutcome.GONE)
        if record.status.final:
            return Claim(ClaimOutcome.FINAL, record)
        claimed = replace(record, status=Status.INPROGRESS, attempts=record.attempts + 1)
        self.records[message_id] = claimed
        self.owners[message_id] = owner
        return Claim(ClaimOutcome.CLAIMED, claimed)

    async def claim_many(
        self, refs: Sequence[MessageRef], owner: str, lease_until: datetime
    ) -> list[Claim]:
        """One ``claim`` per ref (an outage of ``claim`` fails the whole batch)."""
        return [await self.claim(r.queue, r.id, owner, lease_until) for r in refs]

    async def renew(
        self, refs: Sequence[MessageRef], owner: str, lease_until: datetime
    ) -> list[MessageRef]:
        self._enter("renew")
        await asyncio.sleep(self.renew_delay)  # a slow store
        return [r for r in refs if r.id in self.cancel_flags and self.owners.get(r.id) == owner]

    async def cancel(self, queue: str, message_id: str, expires_at: datetime | None) -> Cancel:
        self._enter("cancel")
        record = self.records.get(message_id)
        if record is None:
            return Cancel(CancelOutcome.GONE)
        if record.status is Status.PENDING:
            self.records[message_id] = replace(record, status=Status.CANCELLED)
            return Cancel(CancelOutcome.CANCELLED, self.records[message_id])
        if record.status is Status.INPROGRESS:
            self.cancel_flags.add(message_id)
            self.records[message_id] = replace(record, cancel_requested=True)
            return Cancel(CancelOutcome.REQUESTED, self.records[message_id])
        return Cancel(CancelOutcome.FINAL, record)

    async def finish(self, queue: str, message_id: str, owner: str, outcome: Outcome) -> bool:
        self._enter("finish")
        if message_id in self.broken:
            raise StoreUnavailable(f"test: the write of {message_id} fails")
        if self.rejected and outcome.status is not Status.ERROR:
            raise StoreRejected("test: too large")
        if self.owners.get(message_id) != owner:
            return False
        self.outcomes[message_id] = outcome
        self.records[message_id] = replace(self.records[message_id], status=outcome.status)
        return True

    async def finish_record(
        self, queue: str, message_id: str, owner: str, outcome: Outcome
    ) -> MessageRecord | None:
        if not await self.finish(queue, message_id, owner, outcome):
            return None
        return self.records[message_id]

    async def finish_many(
        self, items: Sequence[tuple[MessageRef, Outcome]], owner: str
    ) -> list[Finished | StoreRejected]:
        """One ``finish_record`` per item (an outage of ``finish`` fails the whole batch)."""
        answers: list[Finished | StoreRejected] = []
        for ref, outcome in items:
            try:
                record = await self.finish_record(ref.queue, ref.id, owner, outcome)
                answers.append(Finished(record is not None, record))
            except StoreRejected as exc:
                answers.append(exc)
        return answers

    async def release(self, queue: str, message_id: str, owner: str) -> bool:
        self._enter("release")
        if self.owners.pop(message_id, None) != owner:
            return False
        self.records[message_id] = replace(self.records[message_id], status=Status.PENDING)
        return True

    async def schedule_retry(
        self, queue: str, message_id: str, owner: str, error: ErrorInfo, not_before: datetime
    ) -> bool:
        self._enter("schedule_retry")
        if self.owners.pop(message_id, None) != owner:
            return False
        self.retries[message_id] = not_before
        self.records[message_id] = replace(
            self.records[message_id], status=Status.PENDING, error=error
        )
        return True

    async def redrive(self, queue: str, message_id: str) -> MessageRecord | None:
        self._enter("redrive")
        return None


@dataclass
class FakeWorkQueue:
    """A :class:`shared.ports.WorkQueue` that hands deliveries to the consumer on demand
    (:meth:`deliver`) and records what was published."""

    survives_restart: bool = True
    published: list[tuple[str, str, float]] = field(default_factory=list)
    callback: DeliveryCallback | None = None
    consuming: list[str] = field(default_factory=list)
    #: What :meth:`ready_count` answers per queue (absent: None, unknown).
    ready: dict[str, int] = field(default_factory=dict)

    async def open(self, queues: Sequence[str]) -> None:
        pass

    async def ready_count(self, queue: str) -> int | None:
        return self.ready.get(queue)

    async def publish(self, queue: str, message_id: str) -> None:
        self.published.append((queue, message_id, 0.0))

    async def publish_many(self, queue: str, message_ids: Sequence[str]) -> set[str]:
        for message_id in message_ids:
            await self.publish(queue, message_id)
        return set()

    async def publish_later(self, queue: str, message_id: str, delay: float) -> None:
        self.published.append((queue, message_id, delay))

    async def consume(
        self, queues: Sequence[str], callback: DeliveryCallback, prefetch: int
    ) -> None:
        self.callback = callback
        self.consuming.extend(queues)

    async def stop_consuming(self, queues: Sequence[str] | None = None) -> None:
        self.consuming = [] if queues is None else [q for q in self.consuming if q not in queues]

    async def ping(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def deliver(self, record: MessageRecord) -> FakeDelivered:
        """Hand ``record`` to the consumer as a new delivery; that delivery."""
        assert self.callback is not None, "not consuming"
        delivered = FakeDelivered(message_id=record.id, queue=record.queue)
        await self.callback(delivered)
        return delivered
