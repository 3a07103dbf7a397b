"""The token-bucket limiter (``gateway.http.ratelimit``), driven by a fake clock."""

from __future__ import annotations

import pytest

from gateway.http.ratelimit import Limit, RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


FIVE_PER_10S = Limit(5, 10.0)


def test_a_burst_up_to_the_limit_passes_then_waits(clock: Clock) -> None:
    limiter = RateLimiter(clock)
    assert [limiter.acquire([("a", FIVE_PER_10S)]) for _ in range(5)] == [0.0] * 5
    assert limiter.acquire([("a", FIVE_PER_10S)]) == pytest.approx(2.0)
    clock.now += 1.0
    assert limiter.acquire([("a", FIVE_PER_10S)]) == pytest.approx(1.0)
    clock.now += 1.0
    assert limiter.acquire([("a", FIVE_PER_10S)]) == 0.0


def test_keys_are_independent(clock: Clock) -> None:
    limiter = RateLimiter(clock)
    for _ in range(5):
        limiter.acquire([("a", FIVE_PER_10S)])
    assert limiter.acquire([("a", FIVE_PER_10S)]) > 0
    assert limiter.acquire([("b", FIVE_PER_10S)]) == 0.0


def test_a_refusal_takes_nothing_from_any_bucket(clock: Clock) -> None:
    limiter = RateLimiter(clock)
    tight, loose = Limit(1, 10.0), Limit(100, 10.0)
    assert limiter.acquire([("t", tight), ("l", loose)]) == 0.0
    for _ in range(3):
        assert limiter.acquire([("t", tight), ("l", loose)]) > 0
    # ``loose`` lost only the one token of the accepted request.
    assert limiter.acquire([("l", loose)], cost=99) == 0.0


def test_cost_counts_tokens_and_over_the_size_never_passes(clock: Clock) -> None:
    limiter = RateLimiter(clock)
    assert limiter.acquire([("a", FIVE_PER_10S)], cost=3) == 0.0
    assert limiter.acquire([("a", FIVE_PER_10S)], cost=3) == pytest.approx(2.0)
    clock.now += 3600
    assert limiter.acquire([("a", FIVE_PER_10S)], cost=6) == pytest.approx(10.0)
    assert limiter.acquire([("a", FIVE_PER_10S)], cost=5) == 0.0


def test_idle_buckets_are_evicted(clock: Clock) -> None:
    limiter = RateLimiter(clock)
    for key in range(50):
        limiter.acquire([(key, FIVE_PER_10S)])
    assert len(limiter) == 50
    clock.now += 10.0  # every bucket is full again: equal to a new one
    limiter.acquire([("fresh", FIVE_PER_10S)])
    assert len(limiter) == 1


def test_memory_is_capped(clock: Clock) -> None:
    limiter = RateLimiter(clock, max_buckets=10)
    for key in range(100):
        limiter.acquire([(key, FIVE_PER_10S)])
    assert len(limiter) <= 10


def test_no_limits_always_pass(clock: Clock) -> None:
    assert RateLimiter(clock).acquire([]) == 0.0
