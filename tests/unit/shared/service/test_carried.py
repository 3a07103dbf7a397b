"""Final records carried by completion events (``shared.service.carried``): a waiter answers
the copy instead of reading the store only where that is exact."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from shared.adapters.inprocess.queues import LocalEvents
from shared.domain.message import ErrorInfo, MessageRecord, Status
from shared.service.announce import Announcer
from shared.service.notify import Notifier
from shared.service.waiting import wait_for_final
from tests.support.waiting import wait_until

PENDING = MessageRecord.new("q", {"n": 1}, message_id="m")
DONE = replace(PENDING, status=Status.COMPLETE, result="ok", version=3)


class Store:
    """The record as the store holds it, and how often a waiter read it."""

    def __init__(self, record: MessageRecord | None) -> None:
        self.record = record
        self.reads = 0

    async def read(self) -> MessageRecord | None:
        self.reads += 1
        return self.record


async def waiting(notifier: Notifier, store: Store) -> asyncio.Future[MessageRecord | None]:
    """A ``GET ?wait=`` on ``m``, registered and past its first read."""
    task = asyncio.ensure_future(wait_for_final(notifier, "m", store.read, 10))
    await wait_until(lambda: store.reads == 1 and notifier.waiting == 1, "the waiter to wait")
    return task


async def test_a_carried_final_record_is_answered_without_a_second_read() -> None:
    notifier, store = Notifier(), Store(PENDING)
    task = await waiting(notifier, store)
    store.record = DONE
    notifier.notify("m", lambda: DONE)
    assert await asyncio.wait_for(task, 5) is DONE
    assert store.reads == 1
    assert len(notifier._copies) == 0  # gone with its last waiter


async def test_without_a_copy_the_waiter_reads_the_store() -> None:
    notifier, store = Notifier(), Store(PENDING)
    task = await waiting(notifier, store)
    store.record = None  # deleted: the delete's event carries nothing
    notifier.notify("m")
    assert await asyncio.wait_for(task, 5) is None
    assert store.reads == 2


async def test_a_change_heard_after_the_copy_makes_it_stale() -> None:
    """Redrive (a change) right after the completion, before the woken waiter ran."""
    notifier, store = Notifier(), Store(PENDING)
    task = await waiting(notifier, store)
    notifier.notify("m", lambda: replace(DONE, status=Status.ERROR))
    redriven = replace(PENDING, version=5)
    store.record = redriven
    notifier.notify_change("m")
    done = replace(DONE, version=7)
    await wait_until(lambda: store.reads == 2, "the store to be read again")
    store.record = done
    notifier.notify("m", lambda: done)  # the new run's completion
    assert await asyncio.wait_for(task, 5) is done
    assert store.reads == 2


async def test_a_delete_heard_after_the_copy_makes_it_stale() -> None:
    notifier, store = Notifier(), Store(PENDING)
    task = await waiting(notifier, store)
    notifier.notify("m", lambda: DONE)
    store.record = None
    notifier.notify("m")  # the delete, before the woken waiter ran
    assert await asyncio.wait_for(task, 5) is None
    assert store.reads == 2


async def test_a_copy_no_newer_than_the_waiters_read_is_not_answered() -> None:
    """A late completion from before the waiter's read (e.g. of a run since redriven)."""
    notifier, store = Notifier(), Store(replace(PENDING, version=6))
    task = await waiting(notifier, store)
    notifier.notify("m", lambda: DONE)  # version 3 < 6: stale
    await wait_until(lambda: store.reads == 2, "the store to be read again")
    assert not task.done()
    task.cancel()


async def test_copies_of_another_queue_or_not_final_are_not_answered() -> None:
    notifier, store = Notifier(), Store(PENDING)
    task = await waiting(notifier, store)
    notifier.notify("m", lambda: replace(DONE, queue="other"))
    await wait_until(lambda: store.reads == 2, "the store to be read again")
    notifier.notify("m", lambda: replace(DONE, status=Status.INPROGRESS))
    await wait_until(lambda: store.reads == 3, "the store to be read again")
    notifier.notify("m", lambda: None)  # an unreadable copy
    await wait_until(lambda: store.reads == 4, "the store to be read again")
    assert not task.done()
    task.cancel()


def test_nothing_is_kept_for_a_message_nobody_here_waits_on() -> None:
    notifier = Notifier()
    decoded: list[str] = []

    def carried() -> MessageRecord:
        decoded.append("m")
        return DONE

    notifier.notify("m", carried)
    assert decoded == [] and len(notifier._copies) == 0  # not even decoded


async def test_the_announcer_hands_the_written_record_to_waiters_here() -> None:
    for listening in (False, True):  # woken directly, or through the in-process events
        notifier, store = Notifier(), Store(PENDING)
        announcer = Announcer(notifier, LocalEvents())
        if listening:
            await announcer.listen()
        task = await waiting(notifier, store)
        await announcer.final("q", "m", DONE)
        assert await asyncio.wait_for(task, 5) is DONE
        assert store.reads == 1


async def test_a_record_with_a_traceback_is_never_carried() -> None:
    failed = replace(
        PENDING, status=Status.ERROR, error=ErrorInfo("KeyError", "'k'", "Traceback …"), version=3
    )
    published: list[MessageRecord | None] = []

    class Recording(LocalEvents):
        async def publish_event(
            self,
            queue: str,
            message_id: str,
            *,
            final: bool = True,
            record: MessageRecord | None = None,
        ) -> None:
            published.append(record)
            await super().publish_event(queue, message_id, final=final, record=record)

    for listening in (False, True):
        notifier, store = Notifier(), Store(PENDING)
        announcer = Announcer(notifier, Recording())
        if listening:
            await announcer.listen()
        task = await waiting(notifier, store)
        store.record = failed
        await announcer.final("q", "m", failed)
        assert await asyncio.wait_for(task, 5) is failed
        assert store.reads == 2  # read from the store, not from the event
    assert published == [None, None]
