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
  it is not run; its delivery goes back (:class:`consumer.settle.GiveBack`) and a fresh claim
  runs the message once the record's lease has expired (the attempt stays counted).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Container

from consumer.batching import Coalescer
from consumer.completion import until_stored
from consumer.leases import Leases
from consumer.settle import GiveBack
from shared.ports import Claim, ClaimOutcome, Claims, MessageRef

log = logging.getLogger(__name__)


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
        was asked for. Raises :class:`GiveBack` for a claim answered too late to run."""
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
            if claim.outcome is not ClaimOutcome.BUSY:
                break
            wait = min(lease / 3, 5.0)
            log.debug(
                "message %s on %s is running; asking again in %.1f s", ref.id, ref.queue, wait
            )
            await asyncio.sleep(wait)
        if claim.outcome is ClaimOutcome.CLAIMED and time.monotonic() - asked > lease / 2:
            log.warning(
                "claim of %s on %s answered after half its lease; delivery given back unrun",
                ref.id,
                ref.queue,
                extra={"message_id": ref.id, "queue": ref.queue},
            )
            raise GiveBack
        return claim, asked
