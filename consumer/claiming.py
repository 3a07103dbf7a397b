"""How a consumer claims the message of a delivery (``Claims.claim_many`` through one
:class:`consumer.batching.Coalescer` per consumer), and when a claim is not to be run.

- A store outage holds the delivery and retries (``consumer.completion.until_stored``); each
  retry asks anew, and the lease counts from the ask that was answered.
- ``BUSY`` (a live lease elsewhere) holds the delivery and asks again every third of a lease
  (at most 5 s): if that holder dies, its lease expires and this delivery runs it.
- A message this process is running already is ``BUSY`` without asking the store: never two
  runs of one message in one process, whatever the store answers.
- A claim answered more than half a lease after it was asked for (a store that stalled
  mid-call, e.g. while it came back from an outage) may hold a lease that lapses before the
  heartbeat's next renewal, or has lapsed already and been taken over by another delivery:
  it is not run. The delivery is held (never requeued: a requeue counts toward the broker's
  delivery limit) and claimed again once that lease has lapsed, like any ``BUSY`` one (the
  attempt stays counted).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Container

from consumer.batching import Coalescer
from consumer.completion import until_stored
from consumer.leases import Leases
from shared.ports import Claim, ClaimOutcome, Claims, MessageRef

log = logging.getLogger(__name__)

#: Seconds past a lease's end (as counted here) before a too-late claim is asked again; if the
#: store's lease ends later still, that ask is ``BUSY`` and waits as usual.
LAPSE_SLACK = 0.1


class Claimer:
    """Claims for one consumer: ``running`` are the refs whose handler runs here now."""

    def __init__(self, claims: Claims, leases: Leases, running: Container[MessageRef]) -> None:
        self._leases = leases
        self._running = running
        owner = leases.owner
        # The claims asked for in one loop turn go as one ``claim_many``; the lease counts
        # from the batch's send, after each caller asked: never too long.
        self._batch: Coalescer[MessageRef, Claim] = Coalescer(
            lambda refs: claims.claim_many(refs, owner, leases.until()), "claim-batch"
        )

    async def claim(self, ref: MessageRef) -> tuple[Claim, float]:
        """The claim of ``ref``, never ``BUSY``, and when (monotonic) its answered attempt
        was asked for."""
        asked = 0.0

        async def ask() -> Claim:
            nonlocal asked
            asked = time.monotonic()
            return await self._batch.ask(ref)

        lease = self._leases.lease_seconds
        while True:
            if ref in self._running:
                claim = Claim(ClaimOutcome.BUSY)
            else:
                claim = await until_stored(ask, "claim")
            late = time.monotonic() - asked
            if claim.outcome is ClaimOutcome.CLAIMED and late > lease / 2:
                log.warning(
                    "claim of %s on %s answered %.1f s after it was asked (over half the "
                    "%g s lease): not run; claiming it again once that lease has lapsed",
                    ref.id,
                    ref.queue,
                    late,
                    lease,
                    extra={"message_id": ref.id, "queue": ref.queue},
                )
                await asyncio.sleep(max(asked + lease - time.monotonic(), 0.0) + LAPSE_SLACK)
                continue
            if claim.outcome is not ClaimOutcome.BUSY:
                return claim, asked
            wait = min(lease / 3, 5.0)
            log.debug(
                "message %s on %s is running; asking again in %.1f s", ref.id, ref.queue, wait
            )
            await asyncio.sleep(wait)
