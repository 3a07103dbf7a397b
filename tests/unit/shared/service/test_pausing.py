"""``shared.service.pausing.Pauses``: the park decision when a resume races it (the record is
taken back by exactly one side: this consumer runs it, or the resume publishes it), and the
process's copy of the pauses (a dict lookup, updated by its own calls and by each read)."""

from __future__ import annotations

from datetime import datetime

from shared.domain.message import utcnow
from shared.domain.pause import PauseState
from shared.platform.metrics import Metrics
from shared.ports import MessageRef
from shared.service.dispatch import Dispatcher
from shared.service.pausing import Pauses
from tests.support.fakes import FakeWorkQueue


class MemoryPauses:
    """The pause port in memory; ``on_park`` runs right after a park (to stage a race)."""

    def __init__(self) -> None:
        self.states: dict[str, PauseState] = {}
        self.parked: set[MessageRef] = set()
        self.pending: set[MessageRef] = set()
        self.on_park: list[str] = []

    async def pause_queue(self, state: PauseState) -> PauseState:
        return self.states.setdefault(state.queue, state)

    async def resume_queue(self, queue: str) -> bool:
        return self.states.pop(queue, None) is not None

    async def paused_queues(self) -> list[PauseState]:
        return list(self.states.values())

    async def park(self, queue: str, message_id: str, now: datetime) -> bool:
        ref = MessageRef(queue, message_id)
        if ref not in self.pending:
            return False
        self.pending.discard(ref)
        self.parked.add(ref)
        for queue_resumed in self.on_park:  # another gateway resumes meanwhile
            self.states.pop(queue_resumed, None)
        return True

    async def unpark(self, queue: str, message_id: str | None = None) -> list[MessageRef]:
        taken = [r for r in self.parked if r.queue == queue and message_id in (None, r.id)]
        for ref in taken:
            self.parked.discard(ref)
            self.pending.add(ref)
        return taken


def pauses_over(store: MemoryPauses) -> tuple[Pauses, FakeWorkQueue]:
    work = FakeWorkQueue()
    return Pauses(store, Dispatcher(work, None), Metrics()), work


async def test_a_delivery_of_a_paused_queue_is_parked_until_the_resume() -> None:
    store = MemoryPauses()
    store.pending.add(MessageRef("q", "m"))
    pauses, work = pauses_over(store)
    answer = await pauses.pause("q", "alice")
    assert pauses.is_paused("q") and not pauses.is_paused("other")
    assert (answer["paused"], answer["paused_by"]) == (True, "alice")
    assert await pauses.park("q", "m")
    assert store.parked == {MessageRef("q", "m")}
    assert (await pauses.resume("q"))["paused"] is False
    assert not pauses.is_paused("q")
    assert work.published == [("q", "m", 0.0)]
    assert store.parked == set()


async def test_a_resume_between_park_and_reread_leaves_the_record_to_this_consumer() -> None:
    store = MemoryPauses()
    store.pending.add(MessageRef("q", "m"))
    store.states["q"] = PauseState("q", utcnow(), None)
    store.on_park.append("q")
    pauses, work = pauses_over(store)
    await pauses.refresh()
    assert pauses.is_paused("q")
    assert not await pauses.park("q", "m")  # taken back: the claim runs it
    assert MessageRef("q", "m") in store.pending and not store.parked
    assert not pauses.is_paused("q")
    assert work.published == []


async def test_a_record_the_resume_took_back_is_acked_here() -> None:
    store = MemoryPauses()
    ref = MessageRef("q", "m")
    store.pending.add(ref)
    store.states["q"] = PauseState("q", utcnow(), None)
    store.on_park.append("q")
    pauses, _ = pauses_over(store)
    await pauses.refresh()
    original = store.unpark
    calls: list[str | None] = []

    async def resume_won(queue: str, message_id: str | None = None) -> list[MessageRef]:
        calls.append(message_id)
        await original(queue)  # the other gateway's resume unparked (and published) it first
        return []

    store.unpark = resume_won  # type: ignore[method-assign]
    assert await pauses.park("q", "m")  # ack this delivery: the resume's copy runs it
    assert calls == ["m"]


async def test_a_record_not_due_or_not_pending_is_left_to_the_claim() -> None:
    store = MemoryPauses()
    store.states["q"] = PauseState("q", utcnow(), None)
    pauses, _ = pauses_over(store)
    await pauses.refresh()
    assert not await pauses.park("q", "running-or-delayed")
