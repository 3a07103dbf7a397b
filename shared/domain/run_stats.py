"""Per-minute rollups of finished runs: counts by outcome and a mergeable run-time histogram.

A :class:`Rollup` is what one or many consumers saw of one queue during one minute (UTC,
whole minutes): how many runs ended COMPLETE, ERROR (final), CANCELLED, or failed with a
retry scheduled, and how long the runs took as counts per fixed duration bucket. Two rollups
of the same (queue, minute) merge exactly by adding every field (:meth:`Rollup.merged`), so
several consumers may write the same row and stores keep it with increments only.

Buckets. Bucket 0 holds runs shorter than :data:`BUCKET_BASE_SECONDS` (0.1 ms); bucket
``i >= 1`` holds ``[BASE·2^((i-1)/8), BASE·2^(i/8))``, so each bucket is 2^(1/8) ≈ 1.09 wide
and the last, :data:`MAX_BUCKET`, also holds everything longer (from about 6.6 days on).
:meth:`Rollup.quantile` takes the nearest-rank quantile over the merged buckets and answers
the geometric middle of its bucket: within :data:`BUCKET_RELATIVE_ERROR` (≈ 4.4 %) of every
duration in that bucket, so of the true quantile too (except under 0.1 ms, answered as
0.1 ms, and in the last bucket).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from shared.domain.message import Status

#: The upper bound of bucket 0, in seconds.
BUCKET_BASE_SECONDS = 1e-4
#: Buckets per doubling of the duration.
BUCKETS_PER_DOUBLING = 8
#: The last bucket (also holds every longer run).
MAX_BUCKET = 255
#: The largest relative distance of a quantile estimate from a duration in its bucket.
BUCKET_RELATIVE_ERROR = 2 ** (1 / (2 * BUCKETS_PER_DOUBLING)) - 1
#: The outcome counters of a rollup, in the order of their columns.
COUNTERS = ("completed", "failed", "cancelled", "retried")


def bucket_of(seconds: float) -> int:
    """The bucket that counts a run of ``seconds``."""
    if seconds < BUCKET_BASE_SECONDS:
        return 0
    index = int(math.log2(seconds / BUCKET_BASE_SECONDS) * BUCKETS_PER_DOUBLING) + 1
    return index if index < MAX_BUCKET else MAX_BUCKET


def bucket_middle(index: int) -> float:
    """The duration (seconds) that stands for bucket ``index``: its geometric middle."""
    if index <= 0:
        return BUCKET_BASE_SECONDS
    return float(BUCKET_BASE_SECONDS * 2 ** ((index - 0.5) / BUCKETS_PER_DOUBLING))


def minute_of(epoch_seconds: float) -> datetime:
    """The whole UTC minute that contains ``epoch_seconds``."""
    return datetime.fromtimestamp(epoch_seconds // 60 * 60, UTC)


def counter_of(status: Status) -> str | None:
    """The counter a run ending in ``status`` adds to (PENDING: a retry was scheduled)."""
    if status is Status.COMPLETE:
        return "completed"
    if status is Status.ERROR:
        return "failed"
    if status is Status.CANCELLED:
        return "cancelled"
    if status is Status.PENDING:
        return "retried"
    return None


@dataclass(slots=True)
class Rollup:
    """One queue's finished runs during one minute (see the module docstring)."""

    queue: str
    minute: datetime
    completed: int = 0
    failed: int = 0
    cancelled: int = 0
    retried: int = 0
    #: Runs per duration bucket (only buckets with runs).
    buckets: dict[int, int] = field(default_factory=dict)

    @property
    def runs(self) -> int:
        """How many run durations the buckets hold."""
        return sum(self.buckets.values())

    def counts(self) -> dict[str, int]:
        """The outcome counters by name (:data:`COUNTERS`)."""
        return {name: getattr(self, name) for name in COUNTERS}

    def merged(self, other: Rollup) -> Rollup:
        """The sum of this rollup and ``other`` (of the same queue and minute)."""
        buckets = dict(self.buckets)
        add_buckets(buckets, other.buckets)
        return Rollup(
            self.queue,
            self.minute,
            self.completed + other.completed,
            self.failed + other.failed,
            self.cancelled + other.cancelled,
            self.retried + other.retried,
            buckets,
        )

    def quantile(self, q: float) -> float | None:
        """The nearest-rank ``q`` quantile (0 < q <= 1) of the run durations, in seconds,
        within :data:`BUCKET_RELATIVE_ERROR`; None without runs."""
        total = self.runs
        if total == 0:
            return None
        rank = max(1, math.ceil(q * total))
        seen = 0
        for index in sorted(self.buckets):
            seen += self.buckets[index]
            if seen >= rank:
                return bucket_middle(index)
        return bucket_middle(max(self.buckets))  # unreachable: seen ends at total

    def to_json(self) -> dict[str, object]:
        """The wire form of ``GET /{queue}/stats``: the minute, the counters, the runs and
        p50/p95 in milliseconds (null without runs)."""
        p50, p95 = self.quantile(0.5), self.quantile(0.95)
        return {
            "minute": self.minute.isoformat().replace("+00:00", "Z"),
            **self.counts(),
            "runs": self.runs,
            "p50_ms": None if p50 is None else round(p50 * 1000, 3),
            "p95_ms": None if p95 is None else round(p95 * 1000, 3),
        }


def add_buckets(into: dict[int, int], more: Mapping[int, int]) -> None:
    """Add the bucket counts ``more`` into ``into``."""
    for index, count in more.items():
        into[index] = into.get(index, 0) + count
