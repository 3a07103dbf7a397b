"""The consumer: takes deliveries, claims records, runs handlers, writes outcomes.

Per delivery (one task each, all tracked in one set; the delivery's prefetch is the
concurrency limit, so there is no second counter):

1. claim the record: ``PENDING`` → ``INPROGRESS`` atomically with a lease
   (``consumer.claiming``: the claims of one loop turn go as one ``Claims.claim_many``, each
   answered as its own). Already final → ack and skip; no record → ack, a WARNING and a
   count (``conveyor_deliveries_without_record_total``). Held by a live lease elsewhere, or
   running here → wait and retry (never run it twice at once); claimed too late to be sure
   of the lease → requeued unrun;
2. run the handler with a ``ctx``; the heartbeat renews the lease meanwhile;
3. write the final status, conditional on still holding it (a delete while ``INPROGRESS``
   is not undone);
4. ack (``consumer.settle`` decides, in one place).

Each message in flight is one :class:`consumer.run.Run`, kept under its ref. A user's cancel
(``cancel``, called for the control channel's signals and for the flags lease renewals
report) sets the handler's ``ctx.cancelled`` and cancels its task; ``consumer.settle`` then
writes ``CANCELLED`` (``Run.write``) and acks. A handler that
swallows the ``CancelledError`` and returns ends ``CANCELLED`` all the same; a claimed
record already flagged ``cancel_requested`` (its holder died) is written ``CANCELLED`` unrun.

Store outages at 1 and 3 are retried while holding the delivery; the writes that end a run
are ``consumer.completion.Finisher``'s.

Shutdown sequence (one deadline, ``grace_seconds``): stop taking deliveries; wait for
in-flight handlers up to the grace period; cancel the rest, which puts their records back to
``PENDING`` and requeues their deliveries; stop the heartbeat. The caller then closes
delivery (channel, connection) and the store, in that order.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from consumer.claiming import Claimer
from consumer.completion import Finisher, until_stored
from consumer.execute import RunResult, run_handler
from consumer.leases import Leases
from consumer.progress import ProgressReporter
from consumer.reschedule import defer, schedule_retry
from consumer.retries import retry_delay
from consumer.run import Run
from consumer.run_counts import RollupCounter
from consumer.settle import settlement
from consumer.threads import HandlerThreads
from conveyor.context import Context, ProgressFn, ignore_progress
from shared.domain.message import MessageRecord, Progress, Status
from shared.platform.logs import message_logger
from shared.platform.metrics import Metrics
from shared.platform.tasks import cancel_and_wait, wait_cancelled
from shared.ports import (
    CancelSignals,
    ClaimOutcome,
    Claims,
    Delivered,
    MessageRef,
    Outcome,
    ProgressReports,
    WorkQueue,
)
from shared.queues.registry import LoadedQueue, Registry
from shared.service.announce import Announcer
from shared.service.dispatch import Dispatcher
from shared.service.pausing import Pauses

log = logging.getLogger(__name__)


#: Builds the ``ctx`` of one run: ``(queue, record, logger bound to the message,
#: ctx.progress of the run)``.
ContextMaker = Callable[
    [LoadedQueue, MessageRecord, logging.LoggerAdapter[logging.Logger], ProgressFn], Context
]


@dataclass(frozen=True, slots=True)
class ConsumerPorts:
    """What a consumer works with: the work queue, the store's claims, the publish path, the
    completion announcer, the live registry, the ``ctx`` factory and the metrics; and where
    ``ctx.progress`` reports go (None: nowhere, they are checked and dropped)."""

    work: WorkQueue
    claims: Claims
    dispatch: Dispatcher
    announce: Announcer
    registry: Callable[[], Registry]
    contexts: ContextMaker
    metrics: Metrics
    progress: ProgressReports | None = None
    #: Cancel signals from the control channel (None: only the store flag at renewals).
    cancels: CancelSignals | None = None
    #: Counts finished runs for the dashboard's charts (None: not counted).
    rollups: RollupCounter | None = None
    #: Paused queues: their deliveries are parked, not claimed (None: never paused).
    pauses: Pauses | None = None


@dataclass(frozen=True, slots=True)
class ConsumerConfig:
    """How a consumer runs (from the settings)."""

    #: Unsettled deliveries per queue (the prefetch), so also handlers running per queue.
    concurrency: int
    lease_seconds: float
    #: ``--queues``: only these may be consumed, also after hot reloads (empty: all).
    only: tuple[str, ...] = ()
    #: Identifies this process in leases (``host:pid``); a random suffix is added, and the
    #: whole is also its worker id (``consumer.presence``).
    instance: str = "consumer"


class Consumer:
    """Runs handlers for deliveries on ``queues``. Start with :meth:`start`."""

    def __init__(self, ports: ConsumerPorts, config: ConsumerConfig, queues: Sequence[str]) -> None:
        self._ports = ports
        self._config = config
        self._queues = list(queues)
        owner = f"{config.instance}:{uuid.uuid4().hex[:8]}"
        self._leases = Leases(
            ports.claims, owner, config.lease_seconds, self._lease_lost, on_cancel=self.cancel
        )
        self._finisher = Finisher(ports.claims, ports.announce, ports.metrics, owner, ports.rollups)
        self._tasks: set[asyncio.Task[None]] = set()
        #: The message each running handler runs, by ref (``consumer.run``).
        self._runs: dict[MessageRef, Run] = {}
        self._claimer = Claimer(ports.claims, self._leases, self._runs.keys())
        # Sync handlers run here, one daemon thread per call (see HandlerThreads).
        self._executor = HandlerThreads()
        self._heartbeat: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the heartbeat and consuming (prefetch = ``concurrency`` per queue)."""
        self._heartbeat = asyncio.create_task(self._leases.run(), name="lease-heartbeat")
        if self._ports.cancels is not None:
            await self._ports.cancels.subscribe_cancels(
                lambda queue, message_id: self.cancel(MessageRef(queue, message_id))
            )
        await self._ports.work.consume(self._queues, self._on_delivery, self._config.concurrency)
        log.info(
            "consuming %s (concurrency %d per queue)",
            ", ".join(self._queues) or "(none)",
            self._config.concurrency,
        )

    async def follow(self, added: Sequence[str], removed: Sequence[str]) -> None:
        """Hot reload: start consuming ``added`` queues, stop consuming ``removed`` ones.

        Added queues are limited to ``--queues`` when it is set; the other queues are not
        disturbed, and messages of a removed queue already in flight finish.
        """
        wanted = self._config.only
        stop = [q for q in removed if q in self._queues]
        start = [q for q in added if q not in self._queues and (not wanted or q in wanted)]
        if stop:
            await self._ports.work.stop_consuming(stop)
            self._queues[:] = [q for q in self._queues if q not in stop]
            log.info("stopped consuming %s", ", ".join(stop))
        if start:
            concurrency = self._config.concurrency
            await self._ports.work.consume(start, self._on_delivery, concurrency)
            self._queues.extend(start)
            log.info("consuming %s (concurrency %d per queue)", ", ".join(start), concurrency)

    @property
    def queues(self) -> list[str]:
        """The queues being consumed (a copy)."""
        return list(self._queues)

    @property
    def owner(self) -> str:
        """The id this consumer claims messages under: a record's lease owner while it runs
        here, and its worker id in the store's workers register (``consumer.presence``)."""
        return self._leases.owner

    @property
    def concurrency(self) -> int:
        """Messages run at once per queue."""
        return self._config.concurrency

    @property
    def in_flight(self) -> int:
        """Messages whose handler is running now."""
        return len(self._runs)

    @property
    def consumed(self) -> Collection[str]:
        """The queues being consumed, live: it follows hot reloads (the recovery sweep's)."""
        return self._queues

    async def _on_delivery(self, delivery: Delivered) -> None:
        task = asyncio.create_task(self._process(delivery), name=f"msg:{delivery.message_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _park(self, pauses: Pauses, delivery: Delivered) -> bool:
        """For a delivery of a paused queue: True if its record is now parked (ack it, never
        requeue: a requeue counts toward the broker's delivery limit); False: claim it as
        usual (``shared.service.pausing.Pauses.park``)."""
        return await until_stored(lambda: pauses.park(delivery.queue, delivery.message_id), "park")

    def _without_record(self, delivery: Delivered) -> None:
        """A delivery whose record this store does not have: acked and counted. Deleted while
        waiting, or pushed through another store on the same queue prefix (which the prefix's
        binding to one store, ``shared.adapters.rabbitmq.identity``, refuses at start-up)."""
        log.warning(
            "delivery of %s on %s has no record in this store (deleted, or pushed through "
            "another store on this queue prefix); acked without running",
            delivery.message_id,
            delivery.queue,
            extra={"message_id": delivery.message_id, "queue": delivery.queue},
        )
        self._ports.metrics.delivered_without_record(delivery.queue)

    def cancel(self, ref: MessageRef) -> None:
        """A user cancelled ``ref``: stop its handler if this consumer runs it (else nothing)."""
        run = self._runs.get(ref)
        if run is not None and run.ask():
            log.info(
                "message %s on %s: cancel requested; stopping its handler",
                ref.id,
                ref.queue,
                extra={"message_id": ref.id, "queue": ref.queue},
            )

    async def _process(self, delivery: Delivered) -> None:
        run = Run(MessageRef(delivery.queue, delivery.message_id), self._finisher)
        async with settlement(delivery, run):
            # Captured once, before any await: a hot reload (``shared.queues.reload``) meanwhile
            # does not change the code this message runs; the next message gets the new one.
            queue = self._ports.registry().get(delivery.queue)
            if queue is None or queue.handler is None:
                raise LookupError(f"no loaded handler for queue {delivery.queue}")
            pauses = self._ports.pauses  # a queue never paused: this line and one dict lookup
            if (
                pauses is not None
                and pauses.is_paused(queue.name)
                and await self._park(pauses, delivery)
            ):
                return
            claim, asked = await self._claimer.claim(run.ref)
            if claim.outcome is ClaimOutcome.DEFERRED and claim.due is not None:
                await defer(self._ports.dispatch, run.ref, claim.due)
                return
            if claim.outcome is ClaimOutcome.GONE:
                self._without_record(delivery)
                return
            if claim.outcome is not ClaimOutcome.CLAIMED or claim.record is None:
                log.debug(
                    "skipping %s on %s: %s",
                    delivery.message_id,
                    delivery.queue,
                    claim.outcome.value,
                )
                return
            run.claimed(queue, claim.record, time.perf_counter())
            if claim.record.cancel_requested:  # cancelled while its previous holder ran it
                await run.write()
                return
            await self._ports.announce.changed(delivery.queue, delivery.message_id)
            await self._run(run, queue, claim.record, asked)

    def _lease_lost(self, ref: MessageRef) -> None:
        """The lease of ``ref`` may lapse: stop its handler; nothing of it is written."""
        run = self._runs.get(ref)
        if run is not None:
            run.lose()

    async def _run(
        self, run: Run, queue: LoadedQueue, record: MessageRecord, claimed_at: float
    ) -> None:
        assert queue.handler is not None
        ref = run.ref
        self._leases.hold(ref, claimed_at)
        task = asyncio.current_task()
        assert task is not None
        started = time.perf_counter()
        bound = message_logger(record.queue, record.id, record.attempts, record.request_id)
        reporter = run.reporter = self._reporter(record)
        progress = ignore_progress if reporter is None else reporter.report
        ctx = self._ports.contexts(queue, record, bound, progress)
        run.running(task, ctx.cancelled, started)
        self._runs[ref] = run
        metrics = self._ports.metrics
        try:
            with metrics.running(record.queue):
                result = await run_handler(
                    queue.handler,
                    record.request,
                    ctx,
                    self._executor,
                    queue.definition.options.timeout_seconds,
                )
            run.returned()
            if reporter is not None:
                await reporter.close()  # the last report lands before the final status
            if run.requested:  # it swallowed the CancelledError: cancelled all the same
                raise asyncio.CancelledError
            outcome, written = await self._conclude(queue, record, result)
        except asyncio.CancelledError:
            if run.lost:  # not ours any more: write nothing, the delivery goes back
                log.warning(
                    "message %s on %s: lease lost (store unreachable); handler cancelled, "
                    "nothing written",
                    record.id,
                    record.queue,
                    extra=bound.extra,
                )
            elif not run.requested:  # shutdown past the grace period: back to PENDING
                await asyncio.shield(self._finisher.release(ref))
            raise  # a user's cancel: ``settlement`` writes CANCELLED
        finally:
            if reporter is not None:
                reporter.abandon()
            run.returned()
            self._leases.drop(ref)
            self._runs.pop(ref, None)
        self._finisher.finished(record, outcome, written, started, bound.extra)

    def _reporter(self, record: MessageRecord) -> ProgressReporter | None:
        """``ctx.progress`` of this run: writes while this consumer holds the message."""
        reports = self._ports.progress
        if reports is None:
            return None
        owner, announce = self._leases.owner, self._ports.announce

        async def write(progress: Progress) -> bool:
            written = await reports.record_progress(record.queue, record.id, owner, progress)
            if written:
                await announce.changed(record.queue, record.id)
            return written

        return ProgressReporter(write, asyncio.get_running_loop())

    async def _conclude(
        self, queue: LoadedQueue, record: MessageRecord, run: RunResult
    ) -> tuple[Outcome, bool]:
        """Success → finish; a failure with attempts left → schedule a retry (the record
        stays PENDING, written; see ``consumer.reschedule``); a final failure → finish ERROR."""
        options = queue.definition.options
        error = run.outcome.error
        if run.failure is None or error is None:
            return await self._finisher.finish(queue, record, run.outcome)
        delay = retry_delay(run.failure, record.attempts, options, random.random())
        if delay is None:
            return await self._finisher.finish(queue, record, run.outcome)
        claims, dispatch, owner = self._ports.claims, self._ports.dispatch, self._leases.owner
        written = await until_stored(
            lambda: schedule_retry(claims, dispatch, record, owner, error, delay), "retry"
        )
        if written:
            self._ports.metrics.retried(record.queue)
            await self._ports.announce.changed(record.queue, record.id)
        return Outcome(Status.PENDING, error=error), written

    async def shutdown(self, grace: float) -> None:
        """Stop consuming, let in-flight work finish up to ``grace`` s, cancel the rest (and
        wait at most ``shared.platform.tasks.CANCEL_WAIT_SECONDS`` more for them to put their
        records back)."""
        await self._ports.work.stop_consuming()
        if self._tasks:
            log.info("waiting up to %.0fs for %d in-flight messages", grace, len(self._tasks))
            _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                log.warning("grace period over: %d messages put back to PENDING", len(pending))
                # Each puts its record back (bounded store calls); one that does not end is
                # logged with its stack and left: its lease expires and the sweep recovers it.
                await wait_cancelled(pending)
        await cancel_and_wait(self._heartbeat)
