"""``ctx.cancelled`` (:class:`conveyor.context.CancelFlag`) seen from a sync handler's thread."""

from __future__ import annotations

import asyncio

from conveyor.context import CancelFlag


async def test_a_thread_waiting_on_the_flag_wakes_when_the_loop_sets_it() -> None:
    flag = CancelFlag()
    waiting = asyncio.ensure_future(asyncio.to_thread(flag.wait_sync, 5))
    await asyncio.sleep(0.05)
    assert not flag.is_set() and not waiting.done()
    flag.set()
    assert await asyncio.wait_for(waiting, 2) is True
    assert await asyncio.to_thread(flag.is_set)


async def test_a_flag_set_before_the_thread_asks_is_seen_at_once() -> None:
    flag = CancelFlag()
    assert await asyncio.to_thread(flag.wait_sync, 0) is False
    flag.set()
    assert await asyncio.to_thread(flag.wait_sync, 0) is True
    flag.clear()
    assert await asyncio.to_thread(flag.wait_sync, 0) is False
