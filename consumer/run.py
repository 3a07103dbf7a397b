"""One in-flight message, as the consumer holds it from its claim to its settlement.

A :class:`Run` is made per delivery. Once the record is claimed it knows the queue and the
record; while its handler runs, it holds the handler's task, its ``ctx.cancelled`` flag and
its progress reporter, and the consumer keeps it under the message's ref (one map: cancels,
lease losses and shutdown all find the message there).

Two things can stop a running handler, and the run remembers which:

- a user's cancel (:meth:`Run.ask`, from the control channel or a flag seen at a lease
  renewal) marks it ``requested``, sets ``ctx.cancelled`` and cancels the task, but only
  while the handler still runs: once it has returned, its outcome is being written and wins.
  ``consumer.settle`` reads ``requested`` to tell the cancel from a shutdown and calls
  :meth:`Run.write` to record ``CANCELLED`` (through the run's :class:`Finisher`);
- a lost lease (:meth:`Run.lose`): the task is cancelled and nothing is written.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from consumer.completion import Finisher
from consumer.progress import ProgressReporter
from conveyor.context import CancelFlag
from shared.domain.message import MessageRecord
from shared.ports import MessageRef
from shared.queues.registry import LoadedQueue


@dataclass(eq=False, slots=True)
class Run:
    """One delivery's message: what it runs and how it may be stopped (satisfies
    ``consumer.settle.UserStop``)."""

    ref: MessageRef
    finisher: Finisher
    #: Set once the record is claimed: the definition it runs under and the claimed record.
    queue: LoadedQueue | None = None
    record: MessageRecord | None = None
    #: ``time.perf_counter()`` when the run started (its claim, then its handler).
    started: float = 0.0
    #: A user asked it to stop.
    requested: bool = False
    #: Its lease may have lapsed: the handler was cancelled and nothing may be written.
    lost: bool = False
    #: While the handler runs: its task, ``ctx.cancelled`` and ``ctx.progress`` writer.
    task: asyncio.Task[None] | None = None
    flag: CancelFlag | None = None
    reporter: ProgressReporter | None = None

    def claimed(self, queue: LoadedQueue, record: MessageRecord, started: float) -> None:
        """The record is ours: ``record`` under ``queue``'s definition, from ``started``."""
        self.queue, self.record, self.started = queue, record, started

    def running(self, task: asyncio.Task[None], flag: CancelFlag, started: float) -> None:
        """The handler starts in ``task`` with ``flag`` as its ``ctx.cancelled``."""
        self.task, self.flag, self.started = task, flag, started

    def returned(self) -> None:
        """The handler is done: a cancel from now on no longer interrupts anything."""
        self.task = None

    def ask(self) -> bool:
        """A user asked the message to stop: set the flag, cancel the running handler; False
        if it was asked before or nothing runs any more."""
        if self.requested or self.task is None:
            return False
        self.requested = True
        if self.flag is not None:
            self.flag.set()
        self.task.cancel("cancelled by a user")
        return True

    def lose(self) -> None:
        """The lease may lapse: stop the handler; nothing of it will be written."""
        if self.task is not None:
            self.lost = True
            self.task.cancel("lease lost")

    async def write(self) -> None:
        """Record ``CANCELLED`` (see ``consumer.settle.UserStop.write``); nothing if the
        record was never claimed."""
        if self.queue is not None and self.record is not None:
            await self.finisher.cancelled(self.queue, self.record, self.started)
