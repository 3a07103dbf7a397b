"""Token-bucket rate limiting: pure logic with an injectable clock (no I/O, no aiohttp).

A :class:`Limit` of ``requests`` per ``per_seconds`` is a bucket holding up to ``requests``
tokens, refilled continuously at ``requests / per_seconds`` a second; a request costing
``n`` takes ``n`` tokens or is refused with the time until it could pass. Bursts up to
``requests`` pass at once, the long-run rate is the limit.

State lives in one :class:`RateLimiter` per process. Memory is bounded: a bucket idle long
enough to be full again equals a new one and is dropped, and beyond ``max_buckets`` the
least recently used ones go (which can only make the limiter more lenient).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limit:
    """At most ``requests`` per ``per_seconds`` (both positive)."""

    requests: int
    per_seconds: float

    @property
    def rate(self) -> float:
        """Tokens refilled per second."""
        return self.requests / self.per_seconds


@dataclass(slots=True)
class _Bucket:
    limit: Limit
    tokens: float
    at: float

    def refill(self, now: float) -> None:
        elapsed = max(0.0, now - self.at)
        self.tokens = min(float(self.limit.requests), self.tokens + elapsed * self.limit.rate)
        self.at = now

    def wait(self, cost: int) -> float:
        """Seconds until ``cost`` tokens are there (0: now); a cost over the size never is."""
        if cost > self.limit.requests:
            return self.limit.per_seconds
        missing = cost - self.tokens
        return 0.0 if missing <= 1e-9 else missing / self.limit.rate

    def full(self) -> bool:
        return self.tokens >= self.limit.requests


class RateLimiter:
    """Token buckets by key; see the module docstring."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, max_buckets: int = 100_000
    ) -> None:
        self._clock = clock
        self._max = max_buckets
        self._buckets: OrderedDict[tuple[Hashable, Limit], _Bucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def acquire(self, wanted: Sequence[tuple[Hashable, Limit]], cost: int = 1) -> float:
        """Take ``cost`` tokens from every listed bucket if all have them: 0.0.

        Otherwise nothing is taken and the answer is the seconds until all would have them
        (> 0). A ``cost`` larger than a limit's ``requests`` can never pass.
        """
        now = self._clock()
        buckets = [self._bucket(key, limit, now) for key, limit in wanted]
        worst = max((bucket.wait(cost) for bucket in buckets), default=0.0)
        if worst <= 0.0:
            for bucket in buckets:
                bucket.tokens -= cost
        self._evict(now)
        return worst

    def _bucket(self, key: Hashable, limit: Limit, now: float) -> _Bucket:
        slot = (key, limit)
        bucket = self._buckets.get(slot)
        if bucket is None:
            bucket = self._buckets[slot] = _Bucket(limit, float(limit.requests), now)
        else:
            bucket.refill(now)
            self._buckets.move_to_end(slot)
        return bucket

    def _evict(self, now: float) -> None:
        """Drop idle full buckets from the least recently used end, and any over the cap."""
        while self._buckets:
            slot, bucket = next(iter(self._buckets.items()))
            bucket.refill(now)
            if not (bucket.full() or len(self._buckets) > self._max):
                return
            del self._buckets[slot]
