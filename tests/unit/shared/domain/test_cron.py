"""Cron schedules of a definition (``shared.domain.cron``): load errors, tick arithmetic in a
time zone with daylight saving (Europe/Paris), and the derived tick message ids."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from shared.domain.cron import Schedule, next_tick, previous_tick, tick_message_id
from shared.queues.definitions import DefinitionError, parse_definition

PATH = Path("/defs/jobs.queue.json")
SCHEMA = {
    "type": "object",
    "properties": {"report": {"type": "string"}},
    "required": ["report"],
    "additionalProperties": False,
}


def definition(*schedules: Any) -> dict[str, Any]:
    return {"name": "jobs", "incoming": {"schema": SCHEMA}, "schedules": list(schedules)}


def sched(**kw: Any) -> dict[str, Any]:
    return {"name": "nightly", "cron": "0 3 * * *", "message": {"report": "daily"}, **kw}


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_a_valid_schedule_loads_with_its_defaults() -> None:
    paris = sched(name="paris", timezone="Europe/Paris")
    parsed = parse_definition(PATH, definition(sched(), paris))
    assert parsed.schedules == (
        Schedule("nightly", "0 3 * * *", {"report": "daily"}, "UTC"),
        Schedule("paris", "0 3 * * *", {"report": "daily"}, "Europe/Paris"),
    )
    assert parse_definition(PATH, {"name": "jobs", "incoming": {"schema": {}}}).schedules == ()


@pytest.mark.parametrize(
    ("schedules", "reason"),
    [
        ([sched(cron="61 * * * *")], "does not parse"),
        ([sched(cron="every minute")], "five fields"),
        ([sched(cron="* * * * * */5")], "five fields"),  # seconds: not a standard cron
        ([sched(cron=5)], "five fields"),
        ([sched(timezone="Mars/Olympus_Mons")], "unknown timezone"),
        ([sched(timezone="")], "timezone"),
        ([sched(), sched(cron="*/5 * * * *")], "used twice"),
        ([sched(message={"report": 7})], "does not fit the queue's schema"),
        ([sched(message={"report": "x", "extra": 1})], "does not fit the queue's schema"),
        ([sched(name="bad name")], "must match"),
        ([sched(every="day")], "unknown key"),
        ([{"name": "x", "cron": "* * * * *"}], "lacks ['message']"),
        (["* * * * *"], "must be an object"),
        ([sched(cron="0 0 30 2 *")], "cron '0 0 30 2 *' has no tick within 50 years"),
        ([sched(cron="0 0 31 4 *")], "has no tick within 50 years"),
    ],
)
def test_a_bad_schedule_is_a_load_error(schedules: list[Any], reason: str) -> None:
    with pytest.raises(DefinitionError) as caught:
        parse_definition(PATH, definition(*schedules))
    assert reason in str(caught.value)
    assert str(caught.value).startswith(str(PATH))


@pytest.mark.parametrize("cron", ["0 0 29 2 *", "0 0 29 2 1", "@yearly"])
def test_a_cron_that_fires_rarely_but_within_50_years_loads(cron: str) -> None:
    (parsed,) = parse_definition(PATH, definition(sched(cron=cron))).schedules
    now = datetime.now(UTC)
    assert previous_tick(parsed, now) <= now < next_tick(parsed, now)


def test_schedules_must_be_a_list() -> None:
    with pytest.raises(DefinitionError, match="schedules must be a list"):
        parse_definition(PATH, {**definition(), "schedules": {"name": "x"}})


def test_ticks_at_and_between_minutes() -> None:
    every5 = Schedule("s", "*/5 * * * *", {})
    assert previous_tick(every5, utc("2026-01-01T10:05:00")) == utc("2026-01-01T10:05:00")
    assert previous_tick(every5, utc("2026-01-01T10:04:59.999")) == utc("2026-01-01T10:00:00")
    assert next_tick(every5, utc("2026-01-01T10:05:00")) == utc("2026-01-01T10:10:00")
    assert next_tick(every5, utc("2026-01-01T10:04:59.5")) == utc("2026-01-01T10:05:00")


def test_a_schedule_runs_in_its_time_zone() -> None:
    paris = Schedule("s", "0 9 * * *", {}, "Europe/Paris")
    assert next_tick(paris, utc("2026-01-10T00:00:00")) == utc("2026-01-10T08:00:00")  # CET
    assert next_tick(paris, utc("2026-07-10T00:00:00")) == utc("2026-07-10T07:00:00")  # CEST


def ticks(schedule: Schedule, start: str, end: str) -> list[str]:
    """Every tick after ``start`` up to ``end`` (UTC), as HH:MM."""
    out: list[str] = []
    at = utc(start)
    while (at := next_tick(schedule, at)) <= utc(end):
        out.append(at.strftime("%d %H:%M"))
    return out


def test_paris_spring_forward_fires_a_missing_time_once_after_the_gap() -> None:
    # 2026-03-29: 02:00 CET becomes 03:00 CEST (01:00 UTC); 02:30 does not exist that day.
    daily = Schedule("s", "30 2 * * *", {}, "Europe/Paris")
    assert ticks(daily, "2026-03-27T12:00:00", "2026-03-30T12:00:00") == [
        "28 01:30",  # 02:30 CET
        "29 01:00",  # 03:00 CEST: the first instant after the gap, once
        "30 00:30",  # 02:30 CEST
    ]
    half_hourly = Schedule("s", "*/30 * * * *", {}, "Europe/Paris")
    assert ticks(half_hourly, "2026-03-28T23:50:00", "2026-03-29T01:40:00") == [
        "29 00:00",  # 01:00 CET
        "29 00:30",  # 01:30 CET
        "29 01:00",  # 03:00 CEST: no tick in the missing hour
        "29 01:30",
    ]
    # previous_tick agrees with next_tick across the gap
    assert previous_tick(daily, utc("2026-03-29T01:20:00")) == utc("2026-03-29T01:00:00")


def test_paris_fall_back_fires_a_repeated_time_once_but_counts_real_time_on_wildcard_hours() -> (
    None
):
    # 2026-10-25: 03:00 CEST becomes 02:00 CET (01:00 UTC); 02:00-02:59 happens twice.
    daily = Schedule("s", "30 2 * * *", {}, "Europe/Paris")
    assert ticks(daily, "2026-10-24T12:00:00", "2026-10-26T12:00:00") == [
        "25 00:30",  # 02:30 CEST, the first occurrence only
        "26 01:30",  # 02:30 CET
    ]
    assert previous_tick(daily, utc("2026-10-25T01:45:00")) == utc("2026-10-25T00:30:00")
    half_hourly = Schedule("s", "*/30 * * * *", {}, "Europe/Paris")
    assert ticks(half_hourly, "2026-10-24T23:50:00", "2026-10-25T01:40:00") == [
        "25 00:00",  # 02:00 CEST
        "25 00:30",  # 02:30 CEST
        "25 01:00",  # 02:00 CET: the repeated hour fires again (every 30 real minutes)
        "25 01:30",  # 02:30 CET
    ]


def test_tick_message_ids_are_derived_from_queue_schedule_and_instant() -> None:
    tick = utc("2026-01-01T10:00:00")
    same = tick_message_id("jobs", "nightly", tick.astimezone())  # any zone: one instant
    assert tick_message_id("jobs", "nightly", tick) == same
    others = {
        tick_message_id("jobs", "other", tick),
        tick_message_id("other", "nightly", tick),
        tick_message_id("jobs", "nightly", utc("2026-01-01T10:01:00")),
    }
    assert same not in others and len(others) == 3


def test_fingerprint_follows_cron_and_zone_not_message() -> None:
    base = Schedule("s", "0 3 * * *", {"a": 1}, "UTC")
    assert base.fingerprint == Schedule("s", "0 3 * * *", {"a": 2}, "UTC").fingerprint
    assert base.fingerprint != Schedule("s", "0 4 * * *", {"a": 1}, "UTC").fingerprint
    assert base.fingerprint != Schedule("s", "0 3 * * *", {"a": 1}, "Europe/Paris").fingerprint
