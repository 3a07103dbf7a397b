"""The threads sync handlers run on: one daemon thread per call."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import ParamSpec, TypeVar

T = TypeVar("T")
P = ParamSpec("P")


class HandlerThreads(Executor):
    """Runs each sync handler call on its own daemon thread.

    Daemon, so that a sync handler still running when the grace period is over (its record
    already put back to ``PENDING``) cannot keep the process from exiting: the threads of a
    ``ThreadPoolExecutor`` are joined at interpreter exit. The number of threads is bounded
    by the deliveries in flight (the prefetch).
    """

    def __init__(self, prefix: str = "handler") -> None:
        self._prefix = prefix
        self._numbers = itertools.count(1)

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        future: Future[T] = Future()

        def run() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:  # delivered to the awaiting coroutine
                future.set_exception(exc)
            else:
                future.set_result(result)

        name = f"{self._prefix}-{next(self._numbers)}"
        threading.Thread(target=run, name=name, daemon=True).start()
        return future
