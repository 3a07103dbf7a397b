"""Run one handler call and turn whatever happens into an :class:`Outcome`.

:func:`run_handler` never raises except ``CancelledError``: a handler's exception becomes
``ERROR`` with ``{"type", "message", "traceback"}`` (:func:`handler_traceback`: formatted
only here, on failure), and a return value that cannot be stored as JSON
becomes ``ERROR`` with a message saying so. ``SystemExit`` (``sys.exit()``),
``KeyboardInterrupt`` and ``GeneratorExit`` are such exceptions too, from an async handler or a
sync one's thread: they end the message, not the process (SIGINT is the event loop's, so only
handler code raises them while it runs). It also classifies for the retry policy
(``consumer.retries.Failure``): a run longer than the queue's ``timeout_seconds`` is
cancelled and becomes ``HandlerTimeout``
(retryable; a sync handler's thread cannot be killed, so it runs on detached while the
message moves on), ``Retry`` carries its delay, ``Reject`` becomes a final ``Rejected``.
``Retry`` and ``Reject`` are the handler's own decisions, not bugs: they keep no traceback.
A timeout keeps where an async handler was when it was cancelled (a sync one's thread
cannot be looked into: none).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import traceback
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from consumer.retries import Failure
from shared.domain.message import ErrorInfo, Status
from shared.domain.outcomes import Reject, Retry
from shared.domain.payloads import dumps
from shared.domain.tracebacks import keep_tail
from shared.ports import Outcome
from shared.queues.registry import Handler

#: What a running handler may raise that ends its message ``ERROR`` (see the module docstring);
#: ``CancelledError`` is not among them.
HANDLER_FAILURES = (Exception, SystemExit, KeyboardInterrupt, GeneratorExit)


#: Modules whose frames lead into a handler (this one, the sync handlers' threads, the
#: registry's call): left out at the top of a handler's traceback, which starts at the
#: handler's code.
_CALLERS = frozenset(
    {__name__, "consumer.threads", "concurrent.futures.thread", "shared.queues.registry"}
)


def handler_traceback(exc: BaseException) -> str | None:
    """The formatted traceback of ``exc`` (with its chained exceptions), from the handler's
    first frame on, cut to its last 16 KiB (``shared.domain.tracebacks``); None when no
    frame of the handler is in it."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_globals.get("__name__") in _CALLERS:
        tb = tb.tb_next
    if tb is None:
        return None
    return keep_tail("".join(traceback.format_exception(type(exc), exc, tb)))


def error_outcome(exc: BaseException, trace: str | None = None) -> Outcome:
    """``ERROR`` with the exception's type name and message (and ``trace``)."""
    return Outcome(Status.ERROR, error=ErrorInfo(type(exc).__name__, str(exc), trace))


def failure_outcome(exc: BaseException) -> Outcome:
    """``ERROR`` for an exception the handler raised: with its traceback."""
    return error_outcome(exc, handler_traceback(exc))


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


@dataclass(frozen=True, slots=True)
class RunResult:
    """A run's outcome and, when it failed, how (None: it succeeded)."""

    outcome: Outcome
    failure: Failure | None = None


def _timeout_outcome(seconds: float, exc: TimeoutError) -> Outcome:
    message = f"the handler ran longer than timeout_seconds={seconds:g} and was cancelled"
    cancelled = exc.__context__  # the CancelledError, raised where the handler was waiting
    trace = handler_traceback(cancelled) if cancelled is not None else None
    return Outcome(Status.ERROR, error=ErrorInfo("HandlerTimeout", message, trace))


async def run_handler(
    handler: Handler, message: Any, ctx: Any, executor: Executor, limit: float | None
) -> RunResult:
    """:func:`execute` for ``limit`` seconds at most, classified for the retry policy."""
    try:
        async with asyncio.timeout(limit) as scope:
            outcome = await _execute_raising(handler, message, ctx, executor)
    except TimeoutError as exc:
        if scope.expired() and limit is not None:
            return RunResult(_timeout_outcome(limit, exc), Failure())
        return RunResult(failure_outcome(exc), Failure())  # the handler's own TimeoutError
    except Retry as exc:
        return RunResult(error_outcome(exc), Failure(delay=exc.delay))
    except Reject as exc:
        return RunResult(
            Outcome(Status.ERROR, error=ErrorInfo("Rejected", exc.reason)), Failure(retryable=False)
        )
    except asyncio.CancelledError:
        raise
    except HANDLER_FAILURES as exc:  # the handler's failure is the message's result
        return RunResult(failure_outcome(exc), Failure())
    if outcome.status is Status.COMPLETE:
        return RunResult(outcome)
    return RunResult(outcome, Failure(retryable=False))  # e.g. a result that is not JSON


async def _execute_raising(handler: Handler, message: Any, ctx: Any, executor: Executor) -> Outcome:
    """Call ``handler`` and let its exceptions through (``run_handler`` classifies them)."""
    if handler.is_async:
        value = await handler.call(message, ctx)
    else:
        call = functools.partial(contextvars.copy_context().run, handler.call, message, ctx)
        value = await asyncio.get_running_loop().run_in_executor(executor, call)
    return result_outcome(value)
