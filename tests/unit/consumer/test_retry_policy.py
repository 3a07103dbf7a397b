"""The pure retry policy (``consumer.retries``) and the RabbitMQ delay tiers."""

from __future__ import annotations

import pytest

from consumer.retries import Failure, compute_backoff, retry_delay
from shared.adapters.rabbitmq.delays import TIERS_MS, pick_tier, tier_arguments, tier_queue
from shared.domain.outcomes import Retry
from shared.queues.definitions import QueueOptions


def test_backoff_doubles_within_jitter_bounds() -> None:
    for attempt, nominal in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0)]:
        assert compute_backoff(attempt, 1.0, 300.0, 0.0) == nominal / 2
        assert compute_backoff(attempt, 1.0, 300.0, 1.0) == nominal
        assert nominal / 2 <= compute_backoff(attempt, 1.0, 300.0, 0.37) <= nominal


def test_backoff_is_capped_and_never_overflows() -> None:
    assert compute_backoff(10, 1.0, 60.0, 1.0) == 60.0
    assert compute_backoff(10_000, 0.5, 60.0, 1.0) == 60.0
    assert compute_backoff(10_000, 0.5, 60.0, 0.0) == 30.0


def test_backoff_is_deterministic_given_rand() -> None:
    assert compute_backoff(3, 0.25, 10.0, 0.5) == compute_backoff(3, 0.25, 10.0, 0.5) == 0.75


def test_backoff_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        compute_backoff(0, 1.0, 10.0, 0.5)
    with pytest.raises(ValueError):
        compute_backoff(1, 1.0, 10.0, 1.5)


def test_retry_delay_decisions() -> None:
    opts = QueueOptions(max_attempts=3, retry_backoff_seconds=2.0, retry_backoff_max_seconds=5.0)
    assert retry_delay(Failure(), 1, opts, 1.0) == 2.0
    assert retry_delay(Failure(), 2, opts, 1.0) == 4.0
    assert retry_delay(Failure(), 3, opts, 1.0) is None  # attempts exhausted
    assert retry_delay(Failure(delay=0.0), 1, opts, 1.0) == 0.0  # the handler's delay wins
    assert retry_delay(Failure(delay=99.0), 3, opts, 1.0) is None  # still honours max_attempts
    assert retry_delay(Failure(retryable=False), 1, opts, 1.0) is None
    assert retry_delay(Failure(), 1, QueueOptions(), 1.0) is None  # default: no retries


def test_retry_rejects_negative_delay() -> None:
    with pytest.raises(ValueError):
        Retry(delay=-1)
    assert Retry(delay=2).delay == 2


def test_tiers() -> None:
    assert list(TIERS_MS) == sorted(TIERS_MS)
    assert pick_tier(0) == 100
    assert pick_tier(0.05) == 100
    assert pick_tier(0.5) == 300
    assert pick_tier(1) == 1000
    assert pick_tier(2.9) == 1000
    assert pick_tier(10) == 10_000
    assert pick_tier(10**9) == TIERS_MS[-1]
    assert tier_queue("p.q", 300) == "p.q.retry.300"
    args = tier_arguments("p.q", 300)
    assert args["x-dead-letter-routing-key"] == "p.q"
    assert args["x-message-ttl"] == 300
    assert int(args["x-expires"]) > 300
