"""Waiting for an observable condition (never for a fixed time): :func:`wait_until` and its
blocking twin."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar, overload

T = TypeVar("T")


def _timed_out(what: str, within: float, last: object, detail: Callable[[], object] | None) -> str:
    message = f"timed out after {within:g} s waiting for {what} (last result: {last!r})"
    return f"{message}\n{detail()}" if detail is not None else message


@overload
async def wait_until(
    predicate: Callable[[], Coroutine[Any, Any, T | None]],
    what: str,
    within: float = 20.0,
    *,
    interval: float = 0.05,
    detail: Callable[[], object] | None = None,
) -> T: ...


@overload
async def wait_until(
    predicate: Callable[[], T | None],
    what: str,
    within: float = 20.0,
    *,
    interval: float = 0.05,
    detail: Callable[[], object] | None = None,
) -> T: ...


async def wait_until(
    predicate: Callable[[], Any],
    what: str,
    within: float = 20.0,
    *,
    interval: float = 0.05,
    detail: Callable[[], object] | None = None,
) -> Any:
    """Call ``predicate`` (a function or a coroutine function) every ``interval`` s until it
    returns something truthy; return that value (typed without ``None``).

    After ``within`` s fail with an AssertionError naming ``what`` was awaited, the last result,
    and ``detail()`` if given (e.g. a process log). The predicate is always called at least
    once, and may itself raise to fail early (e.g. when the process it watches died).
    """
    deadline = time.monotonic() + within
    while True:
        result = predicate()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(_timed_out(what, within, result, detail))
        await asyncio.sleep(interval)


def wait_until_sync(
    predicate: Callable[[], T | None],
    what: str,
    within: float = 20.0,
    *,
    interval: float = 0.05,
    detail: Callable[[], object] | None = None,
) -> T:
    """:func:`wait_until` for synchronous tests (blocks the thread between calls)."""
    deadline = time.monotonic() + within
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(_timed_out(what, within, result, detail))
        time.sleep(interval)
