"""Rate limits on pushes, answered with 429 (after authentication, before the body is read).

Two limits, each per caller (:func:`gateway.auth.callers.caller_of`), both must pass:

- global (``--rate-limit-requests`` per ``--rate-limit-per-seconds``): a caller's pushes
  over all queues together;
- a queue's ``rate_limit``: a caller's pushes to that queue.

A batch counts as its number of items. The state is this process's (one
:class:`gateway.http.ratelimit.RateLimiter` per gateway): with N gateways behind a load balancer
a caller may get up to N times the limit.
"""

from __future__ import annotations

import math
from collections.abc import Hashable

from aiohttp import web

from gateway.http.errors import ApiError
from gateway.http.ratelimit import Limit, RateLimiter
from shared.platform.settings import Settings
from shared.queues.registry import LoadedQueue

RATE_LIMITER = web.AppKey("rate_limiter", RateLimiter)


def global_limit(settings: Settings) -> Limit | None:
    """The configured global limit, None when off."""
    if settings.rate_limit_requests is None:
        return None
    return Limit(settings.rate_limit_requests, settings.rate_limit_per_seconds)


def throttle(
    request: web.Request, settings: Settings, queue: LoadedQueue, caller: str, cost: int = 1
) -> None:
    """Count ``cost`` pushes by ``caller`` to ``queue``; 429 with Retry-After if over a limit."""
    wanted: list[tuple[Hashable, Limit]] = []
    overall = global_limit(settings)
    if overall is not None:
        wanted.append((("global", caller), overall))
    own = queue.definition.options.rate_limit
    if own is not None:
        wanted.append((("queue", queue.name, caller), Limit(own.requests, own.per_seconds)))
    if not wanted:
        return
    wait = request.app[RATE_LIMITER].acquire(wanted, cost)
    if wait > 0:
        retry = max(1, math.ceil(wait))
        raise ApiError(
            429,
            f"rate limit exceeded on queue {queue.name}; retry in {retry} s",
            headers={"Retry-After": str(retry)},
        )
