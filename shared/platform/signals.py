"""Waiting for SIGTERM/SIGINT in an asyncio process; SIGHUP asks for a hot reload."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable


async def wait_for_stop_signal(on_reload: Callable[[], None] | None = None) -> None:
    """Return once SIGTERM or SIGINT arrives (handlers removed afterwards).

    Meanwhile each SIGHUP calls ``on_reload`` (when given; see ``shared.queues.reload``).
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    handled = [signal.SIGTERM, signal.SIGINT]
    for sig in handled:
        loop.add_signal_handler(sig, stop.set)
    if on_reload is not None:
        loop.add_signal_handler(signal.SIGHUP, on_reload)
        handled.append(signal.SIGHUP)
    try:
        await stop.wait()
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)
