"""A user's cancel of a running message, as the consumer tracks it.

One :class:`Stop` per delivery. While its handler runs, the consumer registers it under the
message's ref; a cancel (from the control channel or seen at a lease renewal) marks it
``requested``, sets the handler's ``ctx.cancelled`` and cancels the handler's task, but only
while the handler is still running: once it has returned, its outcome is being written and
wins. ``consumer.settle`` reads ``requested`` to tell the cancel from a shutdown and calls
:meth:`Stop.write` to record ``CANCELLED``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from conveyor.context import CancelFlag


@dataclass(eq=False, slots=True)
class Stop:
    """A delivery's cancel state (satisfies ``consumer.settle.UserStop``)."""

    requested: bool = False
    #: While the handler runs: its task and ``ctx.cancelled``.
    task: asyncio.Task[None] | None = None
    flag: CancelFlag | None = None
    #: Writes CANCELLED for the claimed message (set once it is claimed).
    writer: Callable[[], Awaitable[None]] | None = None

    def running(self, task: asyncio.Task[None], flag: CancelFlag) -> None:
        """The handler starts in ``task`` with ``flag`` as its ``ctx.cancelled``."""
        self.task, self.flag = task, flag

    def returned(self) -> None:
        """The handler is done: a cancel from now on no longer interrupts anything."""
        self.task = None

    def ask(self) -> bool:
        """A user asked the message to stop: set the flag, cancel the running handler; False
        if it was asked before or nothing runs any more."""
        if self.requested or self.task is None:
            return False
        self.requested = True
        if self.flag is not None:
            self.flag.set()
        self.task.cancel("cancelled by a user")
        return True

    async def write(self) -> None:
        """Record ``CANCELLED`` (see ``consumer.settle.UserStop.write``)."""
        if self.writer is not None:
            await self.writer()
