"""The gateway's shutdown sequence (SIGTERM), within ``--grace-seconds``:

1. ``/readyz`` answers 503 at once, so load balancers stop sending new work;
2. for ``--drain-seconds`` everything else is still served (requests already on their way);
3. long polls (``GET ?wait=``, and pushes with ``?wait=``) answer now with the message's
   current state (``Notifier.close``), and the listening socket closes: new connections are
   refused;
4. in-flight requests (a push being recorded and published) finish, for up to the grace
   period (aiohttp's runner shutdown timeout), then the runner closes.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from aiohttp import web

from shared.service.notify import Notifier

log = logging.getLogger(__name__)


@dataclass
class DrainState:
    """Whether this gateway is shutting down (``/readyz`` reads it)."""

    draining: bool = False


DRAIN = web.AppKey("drain", DrainState)


async def drain_and_close(
    runner: web.AppRunner, state: DrainState, notifier: Notifier, delay: float
) -> None:
    """Run steps 1 to 4 of the module docstring on ``runner``."""
    state.draining = True
    log.info("draining: /readyz answers 503; refusing new requests in %.1fs", delay)
    if delay > 0:
        await asyncio.sleep(delay)
    notifier.close()
    await runner.cleanup()
    log.info("gateway closed")
