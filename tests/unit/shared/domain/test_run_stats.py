"""Rollup buckets and quantiles (``shared.domain.run_stats``): every duration lands in a bucket
whose middle is within the documented error, merged rollups give the quantiles of the
combined runs, and outcomes map to their counters."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime

import pytest

from shared.domain.message import Status
from shared.domain.run_stats import (
    BUCKET_BASE_SECONDS,
    BUCKET_RELATIVE_ERROR,
    MAX_BUCKET,
    Rollup,
    bucket_middle,
    bucket_of,
    counter_of,
    minute_of,
)

T0 = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)


def observed(durations: list[float]) -> Rollup:
    rollup = Rollup("q", T0)
    for d in durations:
        index = bucket_of(d)
        rollup.buckets[index] = rollup.buckets.get(index, 0) + 1
    return rollup


def nearest_rank(durations: list[float], q: float) -> float:
    ordered = sorted(durations)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1]


@pytest.mark.parametrize("seconds", [1e-4, 3.3e-4, 0.001, 0.0123, 0.5, 1.0, 7.77, 3600.0])
def test_a_bucket_middle_is_within_the_error_of_its_durations(seconds: float) -> None:
    middle = bucket_middle(bucket_of(seconds))
    assert abs(middle - seconds) / seconds <= BUCKET_RELATIVE_ERROR + 1e-12


def test_buckets_grow_with_the_duration_and_are_bounded() -> None:
    indexes = [bucket_of(BUCKET_BASE_SECONDS * 1.05**n) for n in range(400)]
    assert indexes == sorted(indexes)
    assert bucket_of(0.0) == 0 and bucket_of(BUCKET_BASE_SECONDS / 2) == 0
    assert bucket_of(1e9) == MAX_BUCKET


def test_quantiles_of_merged_rollups_are_those_of_all_runs_within_the_error() -> None:
    rng = random.Random(7)
    first = [rng.lognormvariate(-4, 1) for _ in range(500)]
    second = [rng.lognormvariate(-2, 0.5) for _ in range(300)]
    merged = observed(first).merged(observed(second))
    assert merged.runs == 800
    for q in (0.5, 0.95):
        truth = nearest_rank(first + second, q)
        estimate = merged.quantile(q)
        assert estimate is not None
        assert abs(estimate - truth) / truth <= BUCKET_RELATIVE_ERROR + 1e-12


def test_a_merge_adds_every_counter_and_leaves_both_parts_alone() -> None:
    a = Rollup("q", T0, completed=1, failed=2, buckets={3: 1})
    b = Rollup("q", T0, completed=5, cancelled=1, retried=4, buckets={3: 2, 9: 1})
    assert a.merged(b) == Rollup("q", T0, 6, 2, 1, 4, {3: 3, 9: 1})
    assert a == Rollup("q", T0, completed=1, failed=2, buckets={3: 1})


def test_no_runs_no_quantile_and_the_wire_form() -> None:
    assert Rollup("q", T0).quantile(0.5) is None
    body = Rollup("q", T0, completed=1, buckets={bucket_of(0.25): 1}).to_json()
    assert body["minute"] == "2026-01-01T10:00:00Z"
    assert body["completed"] == 1 and body["runs"] == 1
    p50 = body["p50_ms"]
    assert isinstance(p50, float) and abs(p50 - 250) / 250 <= BUCKET_RELATIVE_ERROR


def test_outcomes_and_minutes() -> None:
    assert counter_of(Status.COMPLETE) == "completed"
    assert counter_of(Status.ERROR) == "failed"
    assert counter_of(Status.CANCELLED) == "cancelled"
    assert counter_of(Status.PENDING) == "retried"
    assert counter_of(Status.INPROGRESS) is None
    assert minute_of(T0.timestamp() + 59.9) == T0
