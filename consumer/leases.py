"""One heartbeat for all of a consumer's in-flight messages, and what happens when it fails.

Every ``lease/4`` seconds the consumer renews, in one store call, the lease of every
message it is running. A consumer that dies stops renewing; once the
lease expires another consumer may take the message over (``Claims.claim``) and the
recovery sweep republishes it. A consumer that is alive but slow keeps its lease, so a
redelivery never runs the message a second time concurrently.

A consumer that is alive but cannot renew (a store outage) must not go on as if it held
the message: :class:`Leases` knows until when each lease is certainly valid (the last
successful write), lets a slow renewal run until just before that, and when less than a
safety margin (``lease/6``, for clock skew between hosts) is left it gives the message up
through ``on_lost`` — the consumer then cancels the handler, writes nothing and lets the
delivery go back — before anyone else may take it over.

Each renewal also reports which held messages a user asked to stop (``cancel_requested`` in
the store): they go to ``on_cancel``, the safety net of a consumer that missed the cancel
signal on the control channel. A slow store therefore costs
nothing until one renewal takes about half a lease (back to back, each must land before the
previous one's lease is within the margin of its end).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Collection
from datetime import datetime, timedelta

from shared.domain.message import utcnow
from shared.ports import Claims, MessageRef, StoreUnavailable

log = logging.getLogger(__name__)

#: Told that the lease of a held message could not be renewed in time.
OnLost = Callable[[MessageRef], None]
#: Told that a user asked a held message to stop (seen at a renewal).
OnCancel = Callable[[MessageRef], None]


class Leases:
    """The refs this consumer holds, until when each lease is known valid, and the loop
    that renews them."""

    def __init__(
        self,
        store: Claims,
        owner: str,
        lease_seconds: float,
        on_lost: OnLost | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_cancel: OnCancel | None = None,
    ) -> None:
        self._store = store
        self._on_cancel = on_cancel
        self.owner = owner
        self.lease_seconds = lease_seconds
        self._on_lost = on_lost
        self._clock = clock
        #: ref → the monotonic time until which its lease is certainly ours.
        self._valid: dict[MessageRef, float] = {}

    @property
    def held(self) -> Collection[MessageRef]:
        """The refs held now (live view)."""
        return self._valid.keys()

    def until(self) -> datetime:
        """The expiry a claim or renewal made now gets."""
        return utcnow() + timedelta(seconds=self.lease_seconds)

    def hold(self, ref: MessageRef, since: float | None = None) -> None:
        """Start renewing ``ref``, claimed at ``since`` (monotonic; default now) with
        :meth:`until`."""
        self._valid[ref] = (self._clock() if since is None else since) + self.lease_seconds

    def drop(self, ref: MessageRef) -> None:
        """Stop renewing ``ref`` (finished, released or lost)."""
        self._valid.pop(ref, None)

    @property
    def margin(self) -> float:
        """How long before a lease's end this consumer gives the message up."""
        return self.lease_seconds / 6

    async def renew_once(self) -> None:
        """Renew every held lease once (a slow renewal may run until the first give-up
        time); report those whose cancel was requested (``on_cancel``); then give up those
        within :attr:`margin` of their end (``on_lost``)."""
        refs = list(self._valid)
        if refs:
            started = self._clock()
            budget = min(self._valid[ref] for ref in refs) - self.margin - started
            try:
                async with asyncio.timeout(max(budget, 0.0)):
                    cancelled = await self._store.renew(refs, self.owner, self.until())
            except (StoreUnavailable, TimeoutError) as exc:
                log.warning(
                    "lease renewal failed for %d messages: %s", len(refs), str(exc) or "timeout"
                )
            else:
                for ref in refs:
                    if ref in self._valid:
                        self._valid[ref] = started + self.lease_seconds
                for ref in cancelled:
                    if ref in self._valid and self._on_cancel is not None:
                        self._on_cancel(ref)
        self._give_up_lapsing()

    def _give_up_lapsing(self) -> None:
        margin = self.margin
        now = self._clock()
        for ref, valid in list(self._valid.items()):
            if valid - now <= margin:
                self.drop(ref)
                log.error(
                    "lease of message %s on %s could not be renewed; giving it up",
                    ref.id,
                    ref.queue,
                    extra={"message_id": ref.id, "queue": ref.queue},
                )
                if self._on_lost is not None:
                    self._on_lost(ref)

    async def run(self) -> None:
        """Renew forever (cancel to stop)."""
        period = self.lease_seconds / 4
        while True:
            started = self._clock()
            await self.renew_once()
            # Fixed rate: a slow renewal is followed by the next one at once, not a period later.
            await asyncio.sleep(max(0.0, period - (self._clock() - started)))
