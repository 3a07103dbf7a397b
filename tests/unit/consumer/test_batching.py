"""``consumer.batching.Coalescer``: the requests of one loop turn go as one call, each caller
gets its own answer, a failed call fails each of its callers, and a lone request goes alone."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from consumer.batching import Coalescer
from shared.ports import StoreRejected, StoreUnavailable


class Store:
    """A batched call that records each batch and answers ``item * 10``; items listed in
    ``refuse`` answer StoreRejected; ``down`` fails the whole call."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.refuse: set[int] = set()
        self.down = False
        self.gate: asyncio.Event | None = None
        #: Each batch as it arrives (a test awaits one in flight).
        self.arrived: asyncio.Queue[list[int]] = asyncio.Queue()

    async def send(self, items: list[int]) -> Sequence[int | BaseException]:
        self.batches.append(items)
        self.arrived.put_nowait(items)
        if self.gate is not None:
            await self.gate.wait()
        if self.down:
            raise StoreUnavailable("test: down")
        return [StoreRejected(f"{i}") if i in self.refuse else i * 10 for i in items]


async def test_one_turns_requests_go_as_one_call_each_answered() -> None:
    store = Store()
    batcher: Coalescer[int, int] = Coalescer(store.send, "test")
    answers = await asyncio.gather(*(batcher.ask(i) for i in range(5)))
    assert answers == [0, 10, 20, 30, 40]
    assert store.batches == [[0, 1, 2, 3, 4]]
    assert await batcher.ask(7) == 70  # a lone request waits for nobody
    assert store.batches[-1] == [7]


async def test_a_refused_item_fails_only_its_caller() -> None:
    store = Store()
    store.refuse = {2}
    batcher: Coalescer[int, int] = Coalescer(store.send, "test")
    answers = await asyncio.gather(*(batcher.ask(i) for i in range(4)), return_exceptions=True)
    assert [a for i, a in enumerate(answers) if i != 2] == [0, 10, 30]
    assert isinstance(answers[2], StoreRejected)
    assert len(store.batches) == 1


async def test_an_outage_fails_every_caller_and_the_retry_batches_again() -> None:
    store = Store()
    store.down = True
    batcher: Coalescer[int, int] = Coalescer(store.send, "test")
    answers = await asyncio.gather(*(batcher.ask(i) for i in range(3)), return_exceptions=True)
    assert all(isinstance(a, StoreUnavailable) for a in answers)
    assert store.batches == [[0, 1, 2], [0], [1], [2]]  # then each alone, as its own call
    store.down = False
    assert await asyncio.gather(*(batcher.ask(i) for i in range(3))) == [0, 10, 20]
    assert store.batches[4:] == [[0, 1, 2]]


async def test_an_item_that_fails_the_whole_call_fails_only_its_caller() -> None:
    store = Store()

    async def poisoned(items: list[int]) -> Sequence[int | BaseException]:
        if 2 in items:
            raise StoreUnavailable("test: item 2 breaks the statement")
        return await store.send(items)

    batcher: Coalescer[int, int] = Coalescer(poisoned, "test")
    answers = await asyncio.gather(*(batcher.ask(i) for i in range(4)), return_exceptions=True)
    assert [a for i, a in enumerate(answers) if i != 2] == [0, 10, 30]
    assert isinstance(answers[2], StoreUnavailable)


async def test_a_cancelled_caller_leaves_the_others_their_answers() -> None:
    store = Store()
    store.gate = asyncio.Event()
    batcher: Coalescer[int, int] = Coalescer(store.send, "test")
    tasks = [asyncio.create_task(batcher.ask(i)) for i in range(3)]
    assert await store.arrived.get() == [0, 1, 2]  # the batch is in flight
    tasks[1].cancel()
    store.gate.set()
    assert await tasks[0] == 0 and await tasks[2] == 20
    with pytest.raises(asyncio.CancelledError):
        await tasks[1]


async def test_requests_made_while_a_batch_is_in_flight_form_the_next_one() -> None:
    store = Store()
    store.gate = asyncio.Event()
    batcher: Coalescer[int, int] = Coalescer(store.send, "test")
    first = [asyncio.create_task(batcher.ask(i)) for i in range(2)]
    assert await store.arrived.get() == [0, 1]
    second = [asyncio.create_task(batcher.ask(i)) for i in range(5, 8)]
    assert await store.arrived.get() == [5, 6, 7]  # not waiting for the first to end
    store.gate.set()
    assert await asyncio.gather(*first, *second) == [0, 10, 50, 60, 70]
    assert store.batches == [[0, 1], [5, 6, 7]]


async def test_a_lone_request_is_sent_from_its_callers_task() -> None:
    senders: list[asyncio.Task[object] | None] = []

    async def send(items: list[int]) -> Sequence[int | BaseException]:
        senders.append(asyncio.current_task())
        return [i * 10 for i in items]

    batcher: Coalescer[int, int] = Coalescer(send, "test")

    async def caller() -> tuple[int, asyncio.Task[object] | None]:
        return await batcher.ask(4), asyncio.current_task()

    answer, task = await caller()
    assert answer == 40 and senders == [task]  # no batch task: the caller's own
    store = Store()
    store.refuse = {3}
    refusing: Coalescer[int, int] = Coalescer(store.send, "test")
    with pytest.raises(StoreRejected):  # a lone refusal is raised to its caller
        await refusing.ask(3)


async def test_a_leader_cancelled_while_gathering_leaves_the_others_their_batch() -> None:
    store = Store()
    batcher: Coalescer[int, int] = Coalescer(store.send, "test")
    leader, *joined = [asyncio.create_task(batcher.ask(i)) for i in range(3)]
    await asyncio.sleep(0)  # the leader yields once to gather; the other two join it
    leader.cancel()  # before its gathering yield returns
    assert await asyncio.gather(*joined) == [10, 20]
    with pytest.raises(asyncio.CancelledError):
        await leader
    assert store.batches == [[1, 2]]
