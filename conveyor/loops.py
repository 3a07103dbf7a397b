"""Running a process's main coroutine on the configured event loop.

``asyncio`` (the default) is the standard library's loop. ``uvloop`` (opt-in, ``pip install
'conveyor[uvloop]'``) runs the same code on libuv, faster on pushes (see bench/README.md).
Nothing else changes: the guarantees are those of the code above the loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


class EventLoopUnavailable(RuntimeError):
    """The configured event loop cannot be used (uvloop is not installed)."""


def run(main: Coroutine[Any, Any, None], event_loop: str) -> None:
    """Run ``main`` to completion on a new ``event_loop`` loop (``asyncio`` or ``uvloop``).

    Raises EventLoopUnavailable (before ``main`` starts; it is closed) when uvloop is asked
    for but not installed.
    """
    if event_loop != "uvloop":
        asyncio.run(main)
        return
    try:
        import uvloop
    except ImportError:
        main.close()
        raise EventLoopUnavailable(
            "--event-loop uvloop needs uvloop: pip install 'conveyor[uvloop]'"
        ) from None
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main)
