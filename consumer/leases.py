"""One heartbeat for all of a consumer's in-flight messages.

Every ``lease/3`` seconds the consumer renews, in one store call, the lease of every message
it is running. A consumer that dies stops renewing; once the lease expires another consumer
may take the message over (``Store.claim``). A consumer that is alive but slow keeps its lease,
so a redelivery never runs the message a second time concurrently.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from shared.ports import Claims, MessageRef, StoreUnavailable
from shared.records import utcnow

log = logging.getLogger(__name__)


class Leases:
    """The refs this consumer holds, and the loop that renews them."""

    def __init__(self, store: Claims, owner: str, lease_seconds: float) -> None:
        self._store = store
        self.owner = owner
        self.lease_seconds = lease_seconds
        self.held: set[MessageRef] = set()

    def until(self) -> datetime:
        """The expiry a claim or renewal made now gets."""
        return utcnow() + timedelta(seconds=self.lease_seconds)

    async def run(self) -> None:
        """Renew forever (cancel to stop)."""
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            if not self.held:
                continue
            try:
                await self._store.renew(list(self.held), self.owner, self.until())
            except StoreUnavailable as exc:
                log.warning("lease renewal failed for %d messages: %s", len(self.held), exc)
