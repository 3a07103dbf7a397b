"""A queue's per-minute run statistics for the dashboard's charts (``GET /{queue}/stats``).

Reads the rollups consumers wrote (``shared.ports.Rollups``, ``consumer.run_counts``): at most
one row per minute of the window, oldest first; minutes without a finished run have no row.
The current minute is partial, and a run shows up only after its consumer's next flush
(``--rollup-flush-seconds``).
"""

from __future__ import annotations

from datetime import timedelta

from shared.domain.message import utcnow
from shared.domain.run_stats import Rollup
from shared.ports import Rollups, StoreUnavailable
from shared.service.errors import store_down

#: The longest window a caller may ask for (rollups are kept longer: ``consumer.run_counts``).
MAX_MINUTES = 360


async def last_minutes(store: Rollups, queue: str, minutes: int) -> list[Rollup]:
    """``queue``'s rollups of the last ``minutes`` minutes, the current one included.
    Raises ``Unavailable`` when the store does not answer."""
    since = utcnow() - timedelta(minutes=minutes - 1)
    try:
        return await store.read_rollups(queue, since)
    except StoreUnavailable:
        raise store_down() from None
