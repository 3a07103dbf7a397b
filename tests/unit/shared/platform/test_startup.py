"""The start-up retry (``shared.platform.startup``) with a fake clock: what is retried, how often it
logs, when it gives up. The real processes are in ``tests/process/test_startup_errors.py``."""

from __future__ import annotations

import logging

import pytest

from shared.adapters.mongo.reach import cause_of
from shared.platform.startup import CannotStart, open_with_retry, start_backoff
from shared.ports import DeliveryUnavailable, StoreUnavailable


class FakeTime:
    """A clock that only moves when the retry sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Flaky:
    """Fails with ``error`` ``failures`` times, then answers ``"open"``."""

    def __init__(self, failures: int, error: Exception) -> None:
        self.failures, self.error, self.calls = failures, error, 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return "open"


def test_backoff_grows_then_stays_at_five_seconds() -> None:
    assert [start_backoff(n) for n in range(1, 7)] == [1, 2, 4, 5, 5, 5]


async def test_retries_until_it_opens_with_one_line_per_failed_attempt(
    caplog: pytest.LogCaptureFixture,
) -> None:
    time = FakeTime()
    flaky = Flaky(3, StoreUnavailable("mongodb: cannot reach MongoDB at h:1 (Connection refused)"))
    with caplog.at_level(logging.WARNING, logger="shared.platform.startup"):
        opened = await open_with_retry("the store", flaky, 60, sleep=time.sleep, clock=time.clock)
    assert opened == "open" and flaky.calls == 4
    assert time.sleeps == [1, 2, 4]
    lines = [r.getMessage() for r in caplog.records if r.name == "shared.platform.startup"]
    assert len(lines) == 3, lines
    assert lines[0].startswith("the store is unreachable (attempt 1, retrying for 60s more)")
    assert all("h:1 (Connection refused)" in line for line in lines)


async def test_gives_up_at_the_end_of_the_window_with_one_line() -> None:
    time = FakeTime()
    flaky = Flaky(1000, DeliveryUnavailable("cannot reach RabbitMQ at h:1 (Connection refused)"))
    with pytest.raises(CannotStart) as info:
        await open_with_retry("the broker", flaky, 10, sleep=time.sleep, clock=time.clock)
    message = str(info.value)
    assert "\n" not in message
    assert message == (
        "the broker is unreachable (5 attempts in 10s, --start-timeout-seconds): "
        "cannot reach RabbitMQ at h:1 (Connection refused)"
    )
    assert time.sleeps == [1, 2, 4, 3], "the last pause ends exactly at the window's end"


async def test_zero_window_is_one_attempt() -> None:
    time = FakeTime()
    flaky = Flaky(1, StoreUnavailable("down"))
    with pytest.raises(CannotStart, match=r"\(1 attempt in 0s"):
        await open_with_retry("the store", flaky, 0, sleep=time.sleep, clock=time.clock)
    assert flaky.calls == 1 and time.sleeps == []


async def test_an_error_waiting_cannot_fix_is_not_retried() -> None:
    class Locked(StoreUnavailable):
        transient = False

    time = FakeTime()
    flaky = Flaky(5, Locked("/x/conveyor.db is in use by another Conveyor process"))
    with pytest.raises(CannotStart) as info:
        await open_with_retry("the store", flaky, 60, sleep=time.sleep, clock=time.clock)
    assert str(info.value) == "/x/conveyor.db is in use by another Conveyor process"
    assert flaky.calls == 1 and time.sleeps == []


async def test_other_errors_are_not_swallowed() -> None:
    time = FakeTime()
    flaky = Flaky(1, ValueError("a bug"))
    with pytest.raises(ValueError, match="a bug"):
        await open_with_retry("the store", flaky, 60, sleep=time.sleep, clock=time.clock)


@pytest.mark.parametrize(
    "address, text, expected",
    [
        (
            ("127.0.0.1", 1),
            "127.0.0.1:1: [Errno 111] Connect call failed ('127.0.0.1', 1) (configured "
            "timeouts: socketTimeoutMS: 3000.0ms, connectTimeoutMS: 3000.0ms)",
            "Connection refused",
        ),
        (
            ("db.invalid", 27017),
            "db.invalid:27017: [Errno -2] Name or service not known (configured timeouts: "
            "socketTimeoutMS: 3000.0ms, connectTimeoutMS: 3000.0ms)",
            "Name or service not known",
        ),
        (("h", 27017), "h:27017: timed out (configured timeouts: x)", "timed out"),
    ],
)
def test_mongodb_causes_in_words(address: tuple[str, int], text: str, expected: str) -> None:
    assert cause_of(address, Exception(text)) == expected


def test_start_timeout_is_a_setting_with_its_variable() -> None:
    from shared.platform.settings import SettingsError, parse_settings

    assert parse_settings({}, {}).start_timeout_seconds == 60
    assert parse_settings({}, {"CONVEYOR_START_TIMEOUT_SECONDS": "0"}).start_timeout_seconds == 0
    assert parse_settings({"start_timeout_seconds": "2.5"}, {}).start_timeout_seconds == 2.5
    for bad in ("-1", "inf", "soon"):
        with pytest.raises(SettingsError, match="CONVEYOR_START_TIMEOUT_SECONDS"):
            parse_settings({}, {"CONVEYOR_START_TIMEOUT_SECONDS": bad})
