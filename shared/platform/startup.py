"""Starting against services that may not be up yet: retry for a while, then one line.

A process started while its store (MongoDB) or broker (RabbitMQ) is down tries again for
``--start-timeout-seconds`` (default 60): one WARNING line per failed attempt, waiting
:func:`start_backoff` between attempts, and then gives up with :class:`CannotStart`, whose
message is the one line ``conveyor`` prints before exiting 3. An attempt that has started
runs to its own connect timeout, so the last one may end a few seconds after the window.
An error that waiting cannot fix (``transient`` False: a SQLite file in use by another
process, a path that cannot be opened, a broker refusing the login) is not retried.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from shared.ports import DeliveryUnavailable, StoreUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")


class CannotStart(Exception):
    """The process cannot start; the message is one line for the operator."""


def start_backoff(attempt: int) -> float:
    """Seconds to wait after failed attempt ``attempt`` (1-based): 1, 2, 4, then 5."""
    return float(min(5, 2 ** (attempt - 1)))


async def open_with_retry(
    what: str,
    open_once: Callable[[], Awaitable[T]],
    window: float,
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """``await open_once()``, again while it raises a transient StoreUnavailable or
    DeliveryUnavailable and ``window`` seconds have not passed since the first attempt.

    Raises CannotStart naming ``what`` (e.g. ``the store``), the window and the last cause.
    """
    deadline = clock() + window
    attempt = 0
    while True:
        attempt += 1
        try:
            return await open_once()
        except (StoreUnavailable, DeliveryUnavailable) as exc:
            if not exc.transient:
                raise CannotStart(str(exc)) from None
            remaining = deadline - clock()
            if remaining <= 0:
                tries = "1 attempt" if attempt == 1 else f"{attempt} attempts"
                raise CannotStart(
                    f"{what} is unreachable ({tries} in {window:g}s, --start-timeout-seconds): "
                    f"{exc}"
                ) from None
            pause = min(start_backoff(attempt), remaining)
            log.warning(
                "%s is unreachable (attempt %d, retrying for %.0fs more): %s",
                what,
                attempt,
                remaining,
                exc,
            )
            await sleep(pause)
