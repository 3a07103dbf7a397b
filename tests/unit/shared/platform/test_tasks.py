"""``shared.platform.tasks``: stopping background tasks at shutdown is bounded; a task that ignores
its cancellation is logged with its stack and abandoned instead of holding the shutdown."""

from __future__ import annotations

import asyncio
import logging

import pytest

from shared.platform.tasks import cancel_and_wait, wait_cancelled


async def stubborn(release: asyncio.Event) -> None:
    """Ignores cancellation until ``release`` is set (like a swallowed CancelledError)."""
    while not release.is_set():
        try:
            await release.wait()
        except asyncio.CancelledError:
            continue


async def test_a_task_that_stops_is_awaited_and_its_cancellation_consumed() -> None:
    task = asyncio.create_task(asyncio.sleep(60))
    await asyncio.sleep(0)
    assert await cancel_and_wait(task, within=5) is True
    assert task.cancelled()
    assert await cancel_and_wait(None) is True


async def test_a_task_that_ignores_cancellation_is_abandoned_with_its_stack_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    release = asyncio.Event()
    task = asyncio.create_task(stubborn(release), name="stuck-one")
    await asyncio.sleep(0)
    loop = asyncio.get_running_loop()
    began = loop.time()
    with caplog.at_level(logging.ERROR, logger="shared.platform.tasks"):
        assert await cancel_and_wait(task, within=0.2) is False
    assert loop.time() - began < 5  # bounded, not forever
    assert not task.done()
    assert "stuck-one" in caplog.text and "stubborn" in caplog.text  # where it is stuck
    release.set()
    await task


async def test_cancelled_message_tasks_are_waited_for_a_bounded_time() -> None:
    release = asyncio.Event()
    quick = asyncio.create_task(asyncio.sleep(60))
    stuck = asyncio.create_task(stubborn(release))
    await asyncio.sleep(0)
    quick.cancel()
    stuck.cancel()
    assert await wait_cancelled([quick, stuck], within=0.2) == {stuck}
    release.set()
    await stuck
