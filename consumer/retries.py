"""Retry policy as pure functions: the backoff and the decision after a failed run.

Nothing here touches a store or a broker (``consumer.reschedule`` does the writing), so the
policy is unit-tested on its own (``tests/unit/consumer/test_retry_policy.py``).

Backoff: exponential with "equal jitter". Attempt ``n`` (1 = the run that just failed)
waits ``d = min(cap, base * 2**(n-1))`` scaled into ``[d/2, d)`` by a uniform random number:
never more than the cap, never less than half the nominal delay (so retries do spread out but
still back off), and with ``rand`` passed in, deterministic under test.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.queues.definitions import QueueOptions

#: Fraction of the nominal delay that is randomised.
JITTER = 0.5


def compute_backoff(attempt: int, base: float, cap: float, rand: float) -> float:
    """Seconds to wait after failed attempt ``attempt`` (>= 1); ``rand`` is uniform in [0, 1).

    ``min(cap, base * 2**(attempt-1)) * (1 - JITTER + JITTER * rand)``; huge attempt numbers
    do not overflow (the cap applies first).
    """
    if attempt < 1:
        raise ValueError("attempt counts from 1")
    if not 0.0 <= rand <= 1.0:
        raise ValueError("rand must be in [0, 1]")
    exponent = min(attempt - 1, 1023)  # 2.0**1024 overflows; the product saturates to inf
    nominal = min(cap, base * 2.0**exponent)
    return nominal * (1.0 - JITTER + JITTER * rand)


@dataclass(frozen=True, slots=True)
class Failure:
    """How a run failed, as the retry policy needs to know it.

    ``retryable``: False for a :class:`shared.domain.outcomes.Reject` and for results that can never
    be stored (retrying cannot help). ``delay``: the handler's :class:`shared.domain.outcomes.Retry`
    delay, if it asked for one.
    """

    retryable: bool = True
    delay: float | None = None


def retry_delay(failure: Failure, attempt: int, options: QueueOptions, rand: float) -> float | None:
    """Seconds until the next attempt, or None when this failure is final.

    Final when the failure is not retryable or ``attempt`` (runs started, 1-based) has reached
    ``max_attempts``. Otherwise the handler's requested delay, else :func:`compute_backoff`.
    """
    if not failure.retryable or attempt >= options.max_attempts:
        return None
    if failure.delay is not None:
        return failure.delay
    return compute_backoff(
        attempt, options.retry_backoff_seconds, options.retry_backoff_max_seconds, rand
    )
