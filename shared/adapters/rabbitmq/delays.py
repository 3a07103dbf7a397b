"""Delay tiers for RabbitMQ: which ``<queue>.retry.<ms>`` queue holds a waiting retry or a
delayed push.

Why fixed tiers. RabbitMQ expires messages only at the head of a queue, so one delay queue
with a per-message ``expiration`` would hold a 1 s retry behind a 5 min one (head-of-line
blocking). Instead each tier is its own classic durable queue with a queue-wide
``x-message-ttl``: every message in it waits the same time, so expiry order is arrival order
and nothing blocks. Expired messages dead-letter (``x-dead-letter-exchange: ""``) straight back
to the main queue. A delay between tiers takes the largest tier not above it; the message
comes back early, its claim is DEFERRED by the store's schedule (the authority on due times)
and it is sent to the largest tier not above the remainder, so it arrives on time within the
smallest tier (100 ms), in a few hops (the tiers grow about 3x).

Tier queues are declared on first use with ``x-expires`` well above their TTL and are
redeclared before every publish (which restarts that timer), so an unused tier disappears by
itself and never takes a waiting message with it.
"""

from __future__ import annotations

#: Tier delays in milliseconds, ascending.
TIERS_MS: tuple[int, ...] = (
    100,
    300,
    1_000,
    3_000,
    10_000,
    30_000,
    60_000,
    300_000,
    900_000,
    3_600_000,
    21_600_000,  # 6 h and 24 h: a delayed push of up to 7 days takes a handful of hops
    86_400_000,
)


def pick_tier(delay: float) -> int:
    """The tier (ms) for a wait of ``delay`` seconds: the largest not above it (else the least)."""
    wanted = delay * 1000.0
    chosen = TIERS_MS[0]
    for tier in TIERS_MS:
        if tier <= wanted:
            chosen = tier
    return chosen


def tier_queue(main_queue: str, tier_ms: int) -> str:
    """The RabbitMQ name of ``main_queue``'s delay queue for ``tier_ms``."""
    return f"{main_queue}.retry.{tier_ms}"


def tier_arguments(main_queue: str, tier_ms: int) -> dict[str, str | int]:
    """Queue arguments of a tier: fixed TTL, dead-letter back to ``main_queue``, auto-expiry."""
    return {
        "x-queue-type": "classic",
        "x-message-ttl": tier_ms,
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": main_queue,
        "x-expires": 2 * tier_ms + 60_000,
    }
