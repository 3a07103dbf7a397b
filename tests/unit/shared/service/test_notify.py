"""The in-process :class:`shared.service.notify.Notifier` and the in-process delivery's events."""

from __future__ import annotations

import asyncio
import contextlib

from shared.adapters.inprocess.queues import LocalEvents
from shared.service.notify import RECHECK_SECONDS, SAFETY_READS_PER_SECOND, Notifier
from tests.support.waiting import wait_until


async def test_notify_wakes_every_waiter_of_that_id_only() -> None:
    notifier = Notifier()
    woken: list[str] = []

    async def waiter(message_id: str) -> None:
        async with notifier.watching(message_id):
            if await notifier.wait(notifier.current(message_id), 5):
                woken.append(message_id)

    tasks = [asyncio.ensure_future(waiter(i)) for i in ("a", "a", "a", "b")]
    await wait_until(lambda: notifier.waiting == 4, "the four waiters to register")
    notifier.notify("a")
    notifier.notify("nobody")  # harmless
    await asyncio.wait_for(asyncio.gather(*tasks[:3]), 2)
    assert woken == ["a", "a", "a"]
    assert not tasks[3].done()
    notifier.notify("b")
    await asyncio.wait_for(tasks[3], 2)
    assert notifier.waiting == 0
    assert notifier._events == {}  # nothing left behind


async def test_wait_times_out_without_a_notify() -> None:
    notifier = Notifier()
    async with notifier.watching("x"):
        assert not await notifier.wait(notifier.current("x"), 0.05)
    assert notifier.waiting == 0


async def test_the_safety_net_rereads_within_a_budget_of_store_reads() -> None:
    notifier = Notifier()
    assert notifier.recheck_seconds() == RECHECK_SECONDS
    async with contextlib.AsyncExitStack() as stack:
        few = int(SAFETY_READS_PER_SECOND * RECHECK_SECONDS)
        for n in range(few):
            await stack.enter_async_context(notifier.watching(f"m{n}"))
        for _ in range(50):  # waiters of one message share their reads: they do not count
            await stack.enter_async_context(notifier.watching("m0"))
        assert notifier.recheck_seconds() == RECHECK_SECONDS
        for n in range(few, 10_000):
            await stack.enter_async_context(notifier.watching(f"m{n}"))
        assert notifier.recheck_seconds() == 10_000 / SAFETY_READS_PER_SECOND  # 50 s
    assert notifier.recheck_seconds() == RECHECK_SECONDS


async def test_local_events_call_subscribers() -> None:
    events = LocalEvents()
    seen: list[tuple[str, str]] = []
    await events.subscribe_events(lambda queue, message_id: seen.append((queue, message_id)))
    await events.publish_event("q", "m1")
    assert seen == [("q", "m1")]


async def test_concurrent_reads_under_one_event_are_shared() -> None:
    notifier = Notifier()
    calls = 0
    gate = asyncio.Event()

    async def read() -> int:
        nonlocal calls
        calls += 1
        await gate.wait()
        return calls

    event = notifier.current("m")
    readers = [asyncio.ensure_future(notifier.read_once(event, read)) for _ in range(100)]
    await asyncio.sleep(0.01)
    readers[0].cancel()  # one caller leaving does not cancel the read for the others
    gate.set()
    results = await asyncio.gather(*readers[1:])
    assert calls == 1 and set(results) == {1}
    notifier.notify("m")  # a new event: the next read is a fresh one
    assert await notifier.read_once(notifier.current("m"), read) == 2


async def test_a_failed_shared_read_reaches_every_caller() -> None:
    notifier = Notifier()

    async def read() -> int:
        await asyncio.sleep(0.01)
        raise RuntimeError("store down")

    event = notifier.current("m")
    results = await asyncio.gather(
        *(notifier.read_once(event, read) for _ in range(5)), return_exceptions=True
    )
    assert all(isinstance(r, RuntimeError) for r in results)
