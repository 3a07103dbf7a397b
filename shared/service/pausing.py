"""Queue pauses as the gateway and the consumer see them (``shared.ports.QueuePauses``).

The store holds the pauses; each process keeps a copy, read again when the control channel
signals a change (``CancelSignals.publish_pause_change``: every pause and resume sends one),
every :data:`POLL_SECONDS` as the safety net for a lost signal (``watching``), and at once by
its own ``pause``/``resume``. So :meth:`Pauses.is_paused` is a dict lookup: the whole
per-message cost for a queue never paused.

Parking (the consumer, for a delivery of a paused queue, instead of the claim): the record
is parked (``PENDING``, never due), then the store's pauses are read again. Still paused:
the delivery is acked and the record waits for the resume. Resumed meanwhile: the record is
unparked by whoever gets it first, this consumer (which then claims and runs it as usual) or
the resume (which publishes it again). A resume forgets the pause first, then unparks every
parked record of the queue, marked unpublished, and publishes each again: a park that read
"paused" happened before the resume's unpark, which gives that record back; a park that read
"resumed" gives it back itself. No record stays parked on a queue that is not paused.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from shared.domain.message import Json, utcnow
from shared.domain.pause import PauseState, running
from shared.platform.metrics import Metrics
from shared.platform.tasks import cancel_and_wait
from shared.ports import CancelSignals, DeliveryUnavailable, QueuePauses, StoreUnavailable
from shared.queues.registry import LoadedQueue
from shared.service.dispatch import Dispatcher
from shared.service.errors import Unavailable

log = logging.getLogger(__name__)
#: How often a process reads the store's pauses again (a consumer stops taking messages of
#: a queue paused elsewhere within this time plus one store read).
POLL_SECONDS = 1.0


class QueuePaused(Unavailable):
    """A push to a paused queue whose definition says ``"when_paused": "refuse"`` (503)."""


class Pauses:
    """This process's view of the paused queues, and the pause, resume and park actions."""

    def __init__(
        self,
        store: QueuePauses,
        dispatch: Dispatcher,
        metrics: Metrics,
        signals: CancelSignals | None = None,
    ) -> None:
        self._store = store
        self._dispatch = dispatch
        self._metrics = metrics
        self._signals = signals
        self._paused: dict[str, PauseState] = {}
        self._watcher: asyncio.Task[None] | None = None
        self._nudged: asyncio.Task[None] | None = None

    def is_paused(self, queue: str) -> bool:
        """Whether ``queue`` was paused at the last read (a dict lookup)."""
        return queue in self._paused

    def check_push(self, queue: LoadedQueue) -> None:
        """Raise :class:`QueuePaused` if ``queue`` refuses pushes now (paused, and its
        definition says ``"when_paused": "refuse"``)."""
        if queue.definition.options.when_paused == "refuse" and self.is_paused(queue.name):
            raise QueuePaused(
                f"queue {queue.name} is paused and refuses pushes (when_paused: refuse);"
                " push again once it is resumed"
            )

    def state(self, queue: str) -> dict[str, Json]:
        """``{"queue", "paused", "paused_at", "paused_by"}`` as last read."""
        found = self._paused.get(queue)
        return found.to_public() if found is not None else running(queue)

    async def refresh(self) -> None:
        """Read the store's pauses now. Raises StoreUnavailable."""
        states = await self._store.paused_queues()
        self._seen({s.queue: s for s in states})

    def _seen(self, paused: dict[str, PauseState]) -> None:
        """Take ``paused`` as the state now; log each change (operators, and tests, read when
        a process learnt of a pause)."""
        for queue in paused.keys() - self._paused.keys():
            log.info("queue %s paused: its new deliveries are parked", queue)
        for queue in self._paused.keys() - paused.keys():
            log.info("queue %s resumed", queue)
        self._paused = paused
        self._metrics.paused(paused)

    async def pause(self, queue: str, by: str | None) -> dict[str, Json]:
        """Pause ``queue`` (idempotent: a paused queue keeps its first time and subject)."""
        state = await self._store.pause_queue(PauseState(queue, utcnow(), by))
        self._seen({**self._paused, queue: state})
        await self._signal(queue)
        return state.to_public()

    async def resume(self, queue: str) -> dict[str, Json]:
        """Resume ``queue`` (idempotent) and deliver its parked records again."""
        await self._store.resume_queue(queue)
        self._seen({q: s for q, s in self._paused.items() if q != queue})
        await self._signal(queue)
        refs = await self._store.unpark(queue)
        for ref in refs:  # unpublished: if a send fails, the recovery sweep sends it
            await self._dispatch.send_or_leave(ref)
        if refs:
            log.info("queue %s resumed: %d parked messages delivered again", queue, len(refs))
        return running(queue)

    async def park(self, queue: str, message_id: str) -> bool:
        """For a delivery of a queue seen paused: True if the record is now parked (ack the
        delivery); False if the claim should decide as usual (not due, not ``PENDING``, or
        the queue was resumed meanwhile and this call took the record back)."""
        if not await self._store.park(queue, message_id, utcnow()):
            return False
        await self.refresh()
        if self.is_paused(queue):
            return True
        return not await self._store.unpark(queue, message_id)

    @asynccontextmanager
    async def watching(self) -> AsyncIterator[None]:
        """Read the pauses now, then every :data:`POLL_SECONDS` until the block exits (one
        watcher per process: a nested block reuses it)."""
        if self._watcher is not None:
            yield
            return
        await self.refresh()
        if self._signals is not None:
            try:
                await self._signals.subscribe_pause_changes(self._nudge)
            except DeliveryUnavailable as exc:  # the once-a-second read still sees changes
                log.warning(
                    "pause signals not subscribed (%s); reading pauses every %ss", exc, POLL_SECONDS
                )
        self._watcher = asyncio.create_task(self._watch(), name="pauses")
        try:
            yield
        finally:
            await cancel_and_wait(self._watcher)
            await cancel_and_wait(self._nudged)
            self._watcher = self._nudged = None

    async def _signal(self, queue: str) -> None:
        """Tell every process that ``queue`` changed (best effort, never raises)."""
        if self._signals is not None:
            await self._signals.publish_pause_change(queue)

    def _nudge(self, queue: str) -> None:
        """A pause change was signalled: read the store now (one read at a time; a change
        during it is seen by the next read, at the latest the next poll)."""
        if self._watcher is None or (self._nudged is not None and not self._nudged.done()):
            return
        self._nudged = asyncio.create_task(self._read(), name="pauses-signalled")

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(POLL_SECONDS)
            await self._read()

    async def _read(self) -> None:
        try:
            await self.refresh()
        except StoreUnavailable as exc:  # keep the last state; the next read may work
            log.debug("pauses not read: %s", exc)
