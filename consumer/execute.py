"""Run one handler call and turn whatever happens into an :class:`Outcome`.

Never raises except ``CancelledError``: a handler's exception becomes ``ERROR`` with
``{"type", "message"}``, and a return value that cannot be stored as JSON becomes ``ERROR``
with a message saying so.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from concurrent.futures import Executor
from typing import Any

from shared.ports import Outcome
from shared.records import ErrorInfo, Status
from shared.registry import Handler
from shared.validation import dumps


def error_outcome(exc: BaseException) -> Outcome:
    """``ERROR`` with the exception's type name and message."""
    return Outcome(Status.ERROR, error=ErrorInfo(type(exc).__name__, str(exc)))


def result_outcome(value: Any) -> Outcome:
    """``COMPLETE`` with ``value``, or ``ERROR`` if ``value`` is not storable JSON."""
    try:
        dumps(value).encode("utf-8")
    except (TypeError, ValueError, RecursionError) as exc:
        return Outcome(
            Status.ERROR,
            error=ErrorInfo("ResultNotJSON", f"handler result cannot be stored as JSON: {exc}"),
        )
    return Outcome(Status.COMPLETE, result=value)


async def execute(handler: Handler, message: Any, ctx: Any, executor: Executor) -> Outcome:
    """Call ``handler`` (a sync one on ``executor``) and report the outcome."""
    try:
        if handler.is_async:
            value = await handler.call(message, ctx)
        else:
            call = functools.partial(contextvars.copy_context().run, handler.call, message, ctx)
            value = await asyncio.get_running_loop().run_in_executor(executor, call)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # the handler's failure is the message's result
        return error_outcome(exc)
    return result_outcome(value)
