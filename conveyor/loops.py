"""Running a process's main coroutine on the configured event loop.

``auto`` (the default) runs on uvloop where it is installed (a dependency on Linux and macOS
with CPython) and on the standard library's asyncio loop elsewhere; ``uvloop`` insists on
uvloop, ``asyncio`` on the standard loop. uvloop runs the same code on libuv, faster on
pushes (see bench/README.md). Nothing else changes: the guarantees are those of the code
above the loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any


class EventLoopUnavailable(RuntimeError):
    """The configured event loop cannot be used (uvloop is not installed)."""


def _uvloop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop factory, or None when uvloop is not installed (or not supported here)."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, None], event_loop: str) -> None:
    """Run ``main`` to completion on a new loop: ``auto``, ``uvloop`` or ``asyncio``.

    Raises EventLoopUnavailable (before ``main`` starts; it is closed) when ``uvloop`` is
    asked for but not installed; ``auto`` then runs on asyncio.
    """
    factory = None if event_loop == "asyncio" else _uvloop_factory()
    if factory is None and event_loop == "uvloop":
        main.close()
        raise EventLoopUnavailable(
            "--event-loop uvloop needs uvloop (installed with Conveyor on Linux and macOS"
            " under CPython): pip install uvloop, or use --event-loop auto or asyncio"
        )
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(main)
