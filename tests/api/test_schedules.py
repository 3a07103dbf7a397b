"""Cron schedules through HTTP in both modes, with the test-only clock file (no test waits
for real minutes): one push per tick, missed ticks collapsed, a crash mid-push and a second
scheduler cannot make a second message, a new schedule never fires for past ticks, hot reload
adds, changes and removes schedules, Europe/Paris daylight saving, and ``GET /queues``."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from croniter.croniter import CroniterBadDateError

import shared.service.scheduler as scheduler_module
from conveyor.serve import Served, serving
from gateway.routes.admin import QUEUES_SCHEMA
from shared.domain.cron import Schedule, next_tick, previous_tick, tick_message_id
from shared.platform.clock import FileClock
from shared.platform.settings import Settings
from shared.service.scheduler import Scheduler
from tests.support.api_client import Api, StartConveyor
from tests.support.queues import add_queue, write_json
from tests.support.waiting import wait_until

Q = "cronq"
SCHEMA = {"type": "object", "required": ["report"]}


class Clock:
    """The file the conveyor's scheduler reads the time from."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def set(self, text: str) -> datetime:
        at = datetime.fromisoformat(text).replace(tzinfo=UTC)
        self.path.write_text(at.isoformat())
        return at


@pytest.fixture
def clock(tmp_path: Path) -> Clock:
    made = Clock(tmp_path / "clock.txt")
    made.set("2026-01-01T10:00:30")
    return made


def schedule(name: str = "every-minute", cron: str = "* * * * *", **kw: Any) -> dict[str, Any]:
    return {"name": name, "cron": cron, "message": {"report": name}, **kw}


def define(queues_dir: Path, *schedules: dict[str, Any]) -> None:
    add_queue(queues_dir, Q, schema=SCHEMA, roles={"roles": ["tester"]}, schedules=list(schedules))


def tick_id(name: str, text: str) -> str:
    return tick_message_id(Q, name, datetime.fromisoformat(text).replace(tzinfo=UTC))


async def message_ids(api: Api) -> set[str]:
    resp = await api.get(f"/{Q}?limit=200", api.keys.token(["tester"]))
    assert resp.status == 200, await resp.text()
    return {item["id"] for item in (await resp.json())["items"]}


async def shown(api: Api) -> list[dict[str, Any]]:
    """The schedules ``GET /queues`` shows for the test queue."""
    resp = await api.get("/queues", api.keys.token(["queue_reader"]))
    assert resp.status == 200, await resp.text()
    (queue,) = [q for q in (await resp.json())["queues"] if q["name"] == Q]
    schedules: list[dict[str, Any]] = queue["schedules"]
    return schedules


async def anchored(served: Served, *names: str) -> None:
    """Wait until the consumer's scheduler has seen ``names`` (their state is stored)."""

    async def seen() -> bool:
        states = await served.runtime.store.schedule_states()
        return {s.name for s in states if s.queue == Q} >= set(names)

    await wait_until(seen, f"schedules {names} anchored")


async def exactly(api: Api, served: Served, expected: set[str]) -> None:
    """The queue ends up holding exactly ``expected`` (after one more full scheduler pass)."""
    await wait_until(lambda: _has(api, expected), f"messages {sorted(expected)}")
    await served.runtime.scheduler.run_pass()
    assert await message_ids(api) == expected


async def _has(api: Api, expected: set[str]) -> bool:
    return await message_ids(api) >= expected


async def test_one_push_per_tick_missed_ticks_once_and_no_duplicate_after_a_crash(
    start_conveyor: StartConveyor, api_for: Any, queues_dir: Path, clock: Clock
) -> None:
    define(queues_dir, schedule())
    served = await start_conveyor(test_clock_file=clock.path)
    api: Api = api_for(served)
    await anchored(served, "every-minute")
    [before] = await shown(api)
    assert before["next_run"] == "2026-01-01T10:01:00.000Z"
    assert before["last_message_id"] is None
    assert before["cron"] == "* * * * *" and before["timezone"] == "UTC"
    assert before["message"] == {"report": "every-minute"}

    clock.set("2026-01-01T10:01:00")
    first = tick_id("every-minute", "2026-01-01T10:01:00")
    await exactly(api, served, {first})
    record = await api.wait_final(Q, first, api.keys.token(["tester"]))
    assert record["status"] == "COMPLETE"
    assert record["request"] == {"report": "every-minute"}
    assert record["result"]["echo"] == {"report": "every-minute"}
    [after] = await shown(api)
    assert after["last_message_id"] == first
    assert after["next_run"] == "2026-01-01T10:02:00.000Z"

    clock.set("2026-01-01T10:01:59")  # no tick in between
    await exactly(api, served, {first})

    clock.set("2026-01-01T10:07:10")  # six ticks missed: only the latest is pushed
    latest = tick_id("every-minute", "2026-01-01T10:07:00")
    await exactly(api, served, {first, latest})

    # A process pushed the 10:08 tick and died before recording it: no second message.
    pushed = await served.runtime.messaging.push_once(
        served.runtime.messaging.queue(Q),
        {"report": "every-minute"},
        tick_id("every-minute", "2026-01-01T10:08:00"),
    )
    assert pushed is not None
    clock.set("2026-01-01T10:08:00")
    await exactly(api, served, {first, latest, pushed.id})
    await wait_until(
        lambda: _last_shown(api, pushed.id), "the 10:08 push recorded as the last message"
    )

    # Another scheduler (as another process would) racing this one for the 10:09 tick.
    rt = served.runtime
    other = Scheduler(rt.registry, rt.messaging, rt.store, FileClock(clock.path))
    clock.set("2026-01-01T10:09:00")
    for _ in range(3):
        await other.run_pass()
    ninth = tick_id("every-minute", "2026-01-01T10:09:00")
    await exactly(api, served, {first, latest, pushed.id, ninth})


async def _last_shown(api: Api, message_id: str) -> bool:
    last: str | None = (await shown(api))[0]["last_message_id"]
    return last == message_id


async def test_hot_reload_adds_changes_and_removes_schedules(
    start_conveyor: StartConveyor, api_for: Any, queues_dir: Path, clock: Clock
) -> None:
    define(queues_dir)
    served = await start_conveyor(test_clock_file=clock.path, reload_interval_seconds=0.2)
    api: Api = api_for(served)
    assert await shown(api) == []

    # Added at 10:03: the 10:00 tick is in the past and never fires.
    clock.set("2026-01-01T10:03:00")
    define(queues_dir, schedule("five", "*/5 * * * *"))
    await wait_until(lambda: _names_shown(api, ["five"]), "the added schedule")
    await anchored(served, "five")
    await exactly(api, served, set())
    clock.set("2026-01-01T10:05:00")
    five = tick_id("five", "2026-01-01T10:05:00")
    await exactly(api, served, {five})

    # Changed to hourly with a new message: starts afresh, fires at 11:00.
    define(queues_dir, schedule("five", "0 * * * *", message={"report": "hourly"}))
    await wait_until(lambda: _cron_shown(api, "0 * * * *"), "the changed schedule")
    await served.runtime.scheduler.run_pass()  # re-anchored at 10:05 (not yet a past tick)
    clock.set("2026-01-01T10:12:00")
    await exactly(api, served, {five})
    clock.set("2026-01-01T11:00:00")
    hourly = tick_id("five", "2026-01-01T11:00:00")
    await exactly(api, served, {five, hourly})
    record = await api.wait_final(Q, hourly, api.keys.token(["tester"]))
    assert record["request"] == {"report": "hourly"}

    # A broken schedule is a load error: the last good version keeps running.
    write_json(
        queues_dir / f"{Q}.queue.json",
        {
            "name": Q,
            "incoming": {"schema": SCHEMA},
            "roles": {"roles": ["tester"]},
            "schedules": [schedule("five", "0 * * * *", message={"no": "report"})],
        },
    )
    await served.reloader.reload()
    assert [s["cron"] for s in await shown(api)] == ["0 * * * *"]

    # Removed: nothing more is pushed and GET /queues shows none.
    define(queues_dir)
    await wait_until(lambda: _names_shown(api, []), "the schedule removed")
    clock.set("2026-01-01T12:00:00")
    await exactly(api, served, {five, hourly})
    states = await served.runtime.store.schedule_states()
    assert [s for s in states if s.queue == Q] == []


async def _names_shown(api: Api, names: list[str]) -> bool:
    return [s["name"] for s in await shown(api)] == names


async def _cron_shown(api: Api, cron: str) -> bool:
    return [s["cron"] for s in await shown(api)] == [cron]


async def test_europe_paris_daylight_saving_transitions(
    start_conveyor: StartConveyor, api_for: Any, queues_dir: Path, clock: Clock
) -> None:
    clock.set("2026-03-28T12:00:00")
    define(queues_dir, schedule("night", "30 2 * * *", timezone="Europe/Paris"))
    served = await start_conveyor(test_clock_file=clock.path)
    api: Api = api_for(served)
    await anchored(served, "night")
    [shown_before] = await shown(api)
    # 02:30 does not exist on 2026-03-29 in Paris: it fires at 03:00 CEST (01:00 UTC).
    assert shown_before["next_run"] == "2026-03-29T01:00:00.000Z"

    clock.set("2026-03-29T00:59:59")
    await exactly(api, served, set())
    clock.set("2026-03-29T01:00:00")
    spring = tick_id("night", "2026-03-29T01:00:00")
    await exactly(api, served, {spring})
    clock.set("2026-03-30T00:30:00")  # 02:30 CEST the day after
    normal = tick_id("night", "2026-03-30T00:30:00")
    await exactly(api, served, {spring, normal})

    # 2026-10-25: 02:30 happens twice in Paris (CEST, then CET): one push, at the first.
    clock.set("2026-10-25T00:00:00")  # months missed: the latest tick (24th, 02:30 CEST) once
    missed = tick_id("night", "2026-10-24T00:30:00")
    await exactly(api, served, {spring, normal, missed})
    clock.set("2026-10-25T00:30:00")
    fall = tick_id("night", "2026-10-25T00:30:00")
    await exactly(api, served, {spring, normal, missed, fall})
    clock.set("2026-10-25T01:30:00")  # 02:30 CET, the repeat: nothing
    await exactly(api, served, {spring, normal, missed, fall})
    [shown_after] = await shown(api)
    assert shown_after["next_run"] == "2026-10-26T01:30:00.000Z"  # 02:30 CET
    assert shown_after["last_message_id"] == fall


async def test_openapi_documents_the_schedules_of_get_queues(
    start_conveyor: StartConveyor, api_for: Any, queues_dir: Path, clock: Clock
) -> None:
    define(queues_dir, schedule(), schedule("paris", "0 9 * * 1-5", timezone="Europe/Paris"))
    served = await start_conveyor(test_clock_file=clock.path)
    api: Api = api_for(served)
    doc = await (await api.get("/openapi.json", api.keys.token(["tester"]))).json()
    answer = doc["paths"]["/queues"]["get"]["responses"]["200"]["content"]["application/json"]
    schema = answer["schema"]
    assert (
        "next_run"
        in schema["properties"]["queues"]["items"]["properties"]["schedules"]["items"]["required"]
    )
    resp = await api.get("/queues", api.keys.token(["queue_reader"]))
    body = await resp.json()
    jsonschema.validate(body, schema, format_checker=jsonschema.FormatChecker())
    (queue,) = [q for q in body["queues"] if q["name"] == Q]
    assert [s["next_run"] for s in queue["schedules"]] == [
        "2026-01-01T10:01:00.000Z",
        "2026-01-02T08:00:00.000Z",  # Friday 09:00 CET (Thursday 09:00 is past)
    ]


async def test_a_handler_sees_the_schedules_through_ctx_messaging(
    start_conveyor: StartConveyor, api_for: Any, queues_dir: Path, clock: Clock
) -> None:
    define(queues_dir, schedule())
    add_queue(queues_dir, "probe", handler="schedules_probe", roles={"roles": ["tester"]})
    served = await start_conveyor(test_clock_file=clock.path)
    api: Api = api_for(served)
    await anchored(served, "every-minute")
    clock.set("2026-01-01T10:01:00")
    first = tick_id("every-minute", "2026-01-01T10:01:00")
    await exactly(api, served, {first})
    token = api.keys.token(["tester"])
    record = await api.wait_final("probe", await api.push("probe", {"queue": Q}, token), token)
    assert record["status"] == "COMPLETE", record
    assert record["result"]["schedules"] == await shown(api)
    assert record["result"]["schedules"][0]["last_message_id"] == first


async def test_ticks_missed_while_stopped_are_pushed_once_at_the_next_start(
    base_settings: Settings,
    start_conveyor: StartConveyor,
    api_for: Any,
    queues_dir: Path,
    clock: Clock,
) -> None:
    define(queues_dir, schedule())
    first = tick_id("every-minute", "2026-01-01T10:01:00")
    async with serving(dataclasses.replace(base_settings, test_clock_file=clock.path)) as served:
        await anchored(served, "every-minute")
        clock.set("2026-01-01T10:01:00")
        await exactly(api_for(served), served, {first})
    clock.set("2026-01-01T10:30:20")  # 29 ticks pass while nothing runs
    served = await start_conveyor(test_clock_file=clock.path)
    api: Api = api_for(served)
    latest = tick_id("every-minute", "2026-01-01T10:30:00")
    await exactly(api, served, {first, latest})
    assert (await shown(api))[0]["last_message_id"] == latest


async def test_a_schedule_whose_ticks_fail_never_stops_the_others_nor_get_queues(
    start_conveyor: StartConveyor,
    api_for: Any,
    queues_dir: Path,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # No cron that loads fails in croniter today (one without a tick within 50 years does
    # not load: tests/unit/shared/domain/test_cron.py); one that did, in a queue sorting between
    # others and before a good schedule of its own queue, must harm nothing else.
    def failing(real: Any) -> Any:
        def tick(schedule: Schedule, at: datetime) -> datetime:
            if schedule.name == "broken":
                raise CroniterBadDateError("failed to find next date")
            result: datetime = real(schedule, at)
            return result

        return tick

    monkeypatch.setattr(scheduler_module, "previous_tick", failing(previous_tick))
    monkeypatch.setattr(scheduler_module, "next_tick", failing(next_tick))
    queues = {"cron-a": ["good"], "cron-m": ["broken", "good"], "cron-z": ["good"]}
    for queue, names in queues.items():
        add_queue(
            queues_dir,
            queue,
            schema=SCHEMA,
            roles={"roles": ["tester"]},
            schedules=[schedule(name) for name in names],
        )
    served = await start_conveyor(test_clock_file=clock.path)
    api: Api = api_for(served)

    async def anchored_all() -> bool:
        states = await served.runtime.store.schedule_states()
        return {(s.queue, s.name) for s in states} >= {(q, "good") for q in queues}

    await wait_until(anchored_all, "the good schedules anchored")
    resp = await api.get("/queues", api.keys.token(["queue_reader"]))
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    shown_runs = {
        (q["name"], s["name"]): s["next_run"] for q in body["queues"] for s in q["schedules"]
    }
    assert shown_runs[("cron-m", "broken")] is None
    for queue in queues:
        assert shown_runs[(queue, "good")] == "2026-01-01T10:01:00.000Z"
    jsonschema.validate(body, QUEUES_SCHEMA)

    clock.set("2026-01-01T10:01:00")
    tick = datetime.fromisoformat("2026-01-01T10:01:00").replace(tzinfo=UTC)
    tester = api.keys.token(["tester"])
    for queue in queues:
        message_id = tick_message_id(queue, "good", tick)

        async def pushed(queue: str = queue, message_id: str = message_id) -> bool:
            return (await api.get(f"/{queue}/{message_id}", tester)).status == 200

        await wait_until(pushed, f"the 10:01 tick of {queue}")
        record = await api.wait_final(queue, message_id, tester)
        assert record["status"] == "COMPLETE", record
    for _ in range(3):
        await served.runtime.scheduler.run_pass()
    logged = [r for r in caplog.records if "its ticks cannot be computed" in r.getMessage()]
    assert len(logged) == 1, [r.getMessage() for r in logged]
