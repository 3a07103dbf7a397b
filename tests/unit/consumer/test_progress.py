"""``ctx.progress`` below the store (``consumer.progress``): the rate limiter with a fake clock,
the last value always landing, reports from other threads, and the values refused."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable

import pytest

from consumer.progress import ProgressReporter, Throttle
from shared.domain.message import Progress
from shared.domain.progress import MAX_NOTE_CHARS, checked
from shared.ports import StoreUnavailable

INTERVAL = 0.25


class FakeTime:
    """A clock that moves only when the test says (:meth:`advance`); sleepers wake then."""

    def __init__(self) -> None:
        self.now = 100.0
        self.naps: list[float] = []
        self._moved = asyncio.Event()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.naps.append(seconds)
        until = self.now + seconds
        while self.now < until - 1e-9:
            self._moved.clear()
            await self._moved.wait()

    async def advance(self, seconds: float) -> None:
        self.now += seconds
        self._moved.set()
        await settle()


class Sink:
    """Records each write with the fake time it happened at."""

    def __init__(self, time: FakeTime, answer: Callable[[], bool] = lambda: True) -> None:
        self.time = time
        self.answer = answer
        self.writes: list[tuple[float, Progress]] = []

    async def write(self, progress: Progress) -> bool:
        self.writes.append((self.time.now, progress))
        await asyncio.sleep(0)
        return self.answer()

    @property
    def fractions(self) -> list[float]:
        return [p.fraction for _, p in self.writes]


def reporter(sink: Sink, time: FakeTime) -> ProgressReporter:
    loop = asyncio.get_running_loop()
    return ProgressReporter(sink.write, loop, interval=INTERVAL, clock=time.clock, sleep=time.sleep)


async def settle() -> None:
    """Let the reporter's writer run as far as it can."""
    for _ in range(20):
        await asyncio.sleep(0)


def test_throttle_allows_one_write_per_interval() -> None:
    throttle = Throttle(INTERVAL)
    assert throttle.wait(0.0) == 0.0  # nothing written yet: at once
    throttle.wrote(10.0)
    assert throttle.wait(10.0) == pytest.approx(0.25)
    assert throttle.wait(10.1) == pytest.approx(0.15)
    assert throttle.wait(10.25) == 0.0
    assert throttle.wait(11.0) == 0.0
    throttle.wrote(11.0)
    assert throttle.wait(11.2) == pytest.approx(0.05)


async def test_a_burst_is_one_write_of_its_last_value() -> None:
    time = FakeTime()
    sink = Sink(time)
    progress = reporter(sink, time)
    for i in range(1000):
        progress.report(i / 1000, note=f"item {i}")
    await settle()
    assert sink.fractions == [0.999]
    assert sink.writes[0][1].note == "item 999"
    assert time.naps == []  # the first write needs no wait
    await progress.close()
    assert len(sink.writes) == 1  # nothing was left waiting


async def test_writes_are_spaced_by_the_interval_and_the_last_value_lands() -> None:
    time = FakeTime()
    sink = Sink(time)
    progress = reporter(sink, time)
    progress.report(0.1)
    await settle()
    for step in range(2, 10):  # a report every 0.05 s, for 0.4 s
        await time.advance(0.05)
        progress.report(step / 10)
        await settle()
    times = [at for at, _ in sink.writes]
    assert times == pytest.approx([100.0, 100.25])  # one write per interval; others coalesced
    assert sink.fractions == [0.1, 0.5]
    progress.report(1.0, note="done")  # right after a write: the throttle would wait…
    await progress.close()  # …but the run is over: it lands now
    assert sink.writes[-1][1] == Progress(1.0, "done", sink.writes[-1][1].at)
    progress.report(0.5)  # after the run: ignored
    await settle()
    assert sink.fractions[-1] == 1.0


async def test_close_waits_for_a_write_under_way() -> None:
    time = FakeTime()
    gate = asyncio.Event()
    writes: list[float] = []

    async def slow_write(progress: Progress) -> bool:
        await gate.wait()
        writes.append(progress.fraction)
        return True

    progress = ProgressReporter(
        slow_write, asyncio.get_running_loop(), interval=INTERVAL, clock=time.clock
    )
    progress.report(0.7)
    await settle()  # the writer took 0.7 and waits for the store
    closing = asyncio.ensure_future(progress.close())
    await settle()
    assert not closing.done()
    gate.set()
    await closing
    assert writes == [0.7]


async def test_reports_from_another_thread_never_block_and_the_last_lands() -> None:
    time = FakeTime()
    sink = Sink(time)
    progress = reporter(sink, time)

    def spin() -> None:
        for i in range(20001):
            progress.report(i / 20000)

    await asyncio.to_thread(spin)  # the event loop runs the writer meanwhile
    await progress.close()
    assert sink.fractions[-1] == 1.0
    assert len(sink.writes) <= 2  # no time passed: the first write, and the last at close


async def test_store_failures_and_lost_leases_do_not_stop_the_reporter() -> None:
    time = FakeTime()
    answers = iter([False, True])

    def answer() -> bool:
        value = next(answers, True)
        return value

    sink = Sink(time, answer)
    progress = reporter(sink, time)
    progress.report(0.2)
    await settle()
    assert progress.written == 0  # not held (False): counted as not written
    progress.report(0.4)
    await time.advance(INTERVAL)
    assert progress.written == 1

    async def failing(_: Progress) -> bool:
        raise StoreUnavailable("down")

    broken = ProgressReporter(failing, asyncio.get_running_loop(), interval=INTERVAL)
    broken.report(0.5)
    await settle()
    await broken.close()  # logged, not raised
    assert broken.written == 0


async def test_abandon_drops_what_waits() -> None:
    time = FakeTime()
    sink = Sink(time)
    progress = reporter(sink, time)
    progress.report(0.1)
    await settle()
    progress.report(0.2)  # waits for the interval
    progress.abandon()
    await settle()
    assert sink.fractions == [0.1]


@pytest.mark.parametrize("bad", [1.5, -0.01, math.nan, math.inf, "0.5", None, True, [0.5]])
def test_fractions_outside_0_to_1_are_value_errors(bad: object) -> None:
    with pytest.raises(ValueError, match="fraction"):
        checked(bad, None)  # type: ignore[arg-type]


def test_notes_are_short_strings() -> None:
    assert checked(0, None) == (0.0, None)
    assert checked(1, "ok") == (1.0, "ok")
    assert checked(0.5, "x" * 1000)[1] == "x" * MAX_NOTE_CHARS
    with pytest.raises(ValueError, match="note"):
        checked(0.5, 42)  # type: ignore[arg-type]


async def test_a_bad_value_raises_in_the_caller_and_writes_nothing() -> None:
    time = FakeTime()
    sink = Sink(time)
    progress = reporter(sink, time)
    with pytest.raises(ValueError):
        progress.report(2.0)
    await progress.close()
    assert sink.writes == []
