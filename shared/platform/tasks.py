"""Stopping background tasks at shutdown without waiting forever.

A task that ignores its cancellation (a library call that swallows ``CancelledError``, or a
shielded write to a service that no longer answers) would otherwise hold a shutdown open
until the process is killed. :func:`cancel_and_wait` waits a bounded time, then logs where
the task is stuck (its stack) and moves on: whatever it held is recovered like a crash's
(leases expire, the recovery sweep republishes).
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Collection

log = logging.getLogger(__name__)

#: How long a cancelled task may take to finish before it is abandoned.
CANCEL_WAIT_SECONDS = 10.0


def where(task: asyncio.Task[object]) -> str:
    """The task's name and current stack, one line per frame (for a log line)."""
    out = io.StringIO()
    task.print_stack(limit=12, file=out)
    return f"{task.get_name()}: {out.getvalue().strip()}"


async def wait_cancelled(
    tasks: Collection[asyncio.Task[object]], within: float = CANCEL_WAIT_SECONDS
) -> set[asyncio.Task[object]]:
    """Wait up to ``within`` s for already cancelled ``tasks`` to end; those still running
    (logged with their stacks) are returned. Their results and errors are not consumed."""
    if not tasks:
        return set()
    _, stuck = await asyncio.wait(set(tasks), timeout=within)
    for task in stuck:
        log.error("task did not stop %.0fs after being cancelled; abandoning it. %s",
                  within, where(task))  # fmt: skip
    return stuck


async def cancel_and_wait(
    task: asyncio.Task[object] | None, within: float = CANCEL_WAIT_SECONDS
) -> bool:
    """Cancel ``task`` and wait up to ``within`` s for it to end; False if it did not (it is
    logged with its stack and abandoned). Its ``CancelledError`` or other error is consumed
    (an error is logged)."""
    if task is None:
        return True
    task.cancel()
    if await wait_cancelled([task], within):
        return False
    if not task.cancelled() and task.exception() is not None:
        log.error("task %s failed while stopping", task.get_name(), exc_info=task.exception())
    return True
