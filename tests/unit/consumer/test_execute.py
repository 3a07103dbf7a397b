"""``consumer.execute.run_handler``'s failures: a handler's exception keeps its traceback
from the handler's first frame on (async and sync handlers, chained exceptions, timeouts,
``SystemExit``); ``Retry``, ``Reject`` and a result that is not JSON keep none."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any

import pytest

from consumer.execute import RunResult, run_handler
from consumer.threads import HandlerThreads
from conveyor import Reject, Retry
from shared.domain.message import ErrorInfo
from shared.queues.registry import Handler

HERE = __file__


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(1) as pool:
        yield pool


def lookup(message: dict[str, Any]) -> Any:
    return message["missing_key"]


async def run(func: Any, executor: Executor, limit: float | None = None) -> ErrorInfo:
    handler = Handler(func, asyncio.iscoroutinefunction(func), True)
    result: RunResult = await run_handler(handler, {}, None, executor, limit)
    assert result.outcome.error is not None, result
    return result.outcome.error


def frames(trace: str) -> list[str]:
    return [line.strip() for line in trace.splitlines() if line.strip().startswith("File ")]


async def test_an_async_handlers_traceback_starts_at_the_handler(
    executor: ThreadPoolExecutor,
) -> None:
    async def handle(message: Any, ctx: Any) -> Any:
        return lookup(message)

    error = await run(handle, executor)
    assert (error.type, error.message) == ("KeyError", "'missing_key'")
    assert error.traceback is not None
    assert error.traceback.startswith("Traceback (most recent call last):\n")
    assert error.traceback.endswith("KeyError: 'missing_key'\n")
    assert [f.split(", in ")[-1] for f in frames(error.traceback)] == ["handle", "lookup"]
    assert all(HERE in f for f in frames(error.traceback))


@pytest.mark.parametrize("threads", ["HandlerThreads", "ThreadPoolExecutor"])
async def test_a_sync_handlers_traceback_starts_at_the_handler_too(
    executor: ThreadPoolExecutor, threads: str
) -> None:
    def handle(message: Any, ctx: Any) -> Any:
        try:
            return lookup(message)
        except KeyError as exc:
            raise RuntimeError("lookup failed") from exc

    error = await run(handle, HandlerThreads() if threads == "HandlerThreads" else executor)
    assert error.traceback is not None
    assert frames(error.traceback)[0].endswith(", in handle")
    assert "The above exception was the direct cause" in error.traceback
    assert "KeyError: 'missing_key'" in error.traceback
    assert error.traceback.endswith("RuntimeError: lookup failed\n")
    assert "concurrent/futures" not in error.traceback
    assert "consumer/threads.py" not in error.traceback
    assert "consumer/execute.py" not in error.traceback
    assert "registry.py" not in error.traceback


async def test_system_exit_keeps_its_traceback(executor: ThreadPoolExecutor) -> None:
    async def handle(message: Any, ctx: Any) -> Any:
        sys.exit(3)

    error = await run(handle, executor)
    assert error.type == "SystemExit"
    assert error.traceback is not None and "sys.exit(3)" in error.traceback


async def test_a_timeout_keeps_where_the_async_handler_was_waiting(
    executor: ThreadPoolExecutor,
) -> None:
    async def stuck_here(message: Any, ctx: Any) -> Any:
        await asyncio.sleep(60)

    error = await run(stuck_here, executor, limit=0.05)
    assert error.type == "HandlerTimeout"
    assert error.traceback is not None
    assert "in stuck_here" in error.traceback and "await asyncio.sleep(60)" in error.traceback


@pytest.mark.parametrize("raised", [Retry("later", delay=1), Reject("no")], ids=["retry", "reject"])
async def test_retry_and_reject_keep_no_traceback(
    executor: ThreadPoolExecutor, raised: Exception
) -> None:
    async def handle(message: Any, ctx: Any) -> Any:
        raise raised

    assert (await run(handle, executor)).traceback is None


async def test_a_result_that_is_not_json_keeps_no_traceback(
    executor: ThreadPoolExecutor,
) -> None:
    async def handle(message: Any, ctx: Any) -> Any:
        return object()

    error = await run(handle, executor)
    assert (error.type, error.traceback) == ("ResultNotJSON", None)
