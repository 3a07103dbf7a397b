"""Cron schedules of a queue definition: parsing, tick arithmetic and tick message ids.

A definition may carry ``"schedules": [{"name", "cron", "message", "timezone"}]``: push
``message`` on the queue at every tick of ``cron`` (five fields, or ``@hourly``/``@daily``/...,
as croniter reads them) in ``timezone`` (an IANA name; default ``UTC``). ``name`` is unique per
queue and identifies the schedule across reloads and restarts.

Ticks are instants (aware UTC datetimes). Daylight-saving transitions in the schedule's time
zone follow croniter, with one rule added:

- spring forward: a wall-clock time that does not exist that day fires once, at the first
  instant after the gap (``30 2 * * *`` in Europe/Paris fires at 03:00 CEST on that Sunday);
- fall back: a wall-clock time that happens twice fires once, at its first occurrence,
  unless the hour field is ``*`` (then the schedule counts elapsed time and fires in both
  passes of the repeated hour: ``*/30 * * * *`` fires every 30 real minutes).

A cron with no tick in the next :data:`FIRES_WITHIN_YEARS` years (``0 0 30 2 *``, 30 February)
is a load error: croniter finds no tick for it. ``0 0 29 2 *`` (every leap year) loads.

The message of a tick has the id :func:`tick_message_id` (a UUID5 of queue, schedule name and
tick instant), which is what makes a tick's push idempotent across processes.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from croniter.croniter import CroniterError

from shared.domain.message import Json
from shared.domain.payloads import validation_errors

#: Namespace of the tick message ids (a fixed, random UUID: never change it).
TICK_NAMESPACE = uuid.UUID("4f7c3a52-9b1e-4d0b-8a9e-2f6c1d3b7e10")
#: A schedule's name: the same rule as a queue's.
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
SCHEDULE_KEYS = frozenset({"name", "cron", "message", "timezone"})
#: How far :func:`previous_tick` / :func:`next_tick` step over skipped fall-back ticks.
_MAX_SKIPS = 4
#: A cron must tick within this many years (from now, either way) to load; croniter gives up
#: looking past it. Any real cron ticks at least every 28 years (29 February on one weekday).
FIRES_WITHIN_YEARS = 50


class ScheduleError(ValueError):
    """A schedule of a definition is invalid; ``str()`` says which and why."""


@dataclass(frozen=True, slots=True)
class Schedule:
    """One validated schedule of a queue."""

    name: str
    cron: str
    message: Json
    timezone: str = "UTC"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def fingerprint(self) -> str:
        """Changes when ``cron`` or ``timezone`` does (then the schedule starts afresh: no
        tick before the change fires); the message may change freely."""
        text = json.dumps([self.cron, self.timezone], separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def to_json(self) -> dict[str, Json]:
        return {
            "name": self.name,
            "cron": self.cron,
            "timezone": self.timezone,
            "message": self.message,
        }


def tick_message_id(queue: str, schedule: str, tick: datetime) -> str:
    """The message id of ``schedule``'s push for ``tick``: the same in every process."""
    instant = tick.astimezone(UTC).isoformat(timespec="seconds")
    return str(uuid.uuid5(TICK_NAMESPACE, f"{queue}\n{schedule}\n{instant}"))


def _second_occurrence(tick: datetime, zone: ZoneInfo) -> bool:
    """True if ``tick``'s local wall time also happened earlier (a fall-back repeat)."""
    wall = tick.astimezone(zone).replace(tzinfo=None)
    first = wall.replace(tzinfo=zone, fold=0)
    return first.utcoffset() != tick.astimezone(zone).utcoffset() and first < tick


def _skipped(schedule: Schedule, tick: datetime) -> bool:
    hours = croniter(schedule.cron).expanded[1]
    return hours != ["*"] and _second_occurrence(tick, schedule.zone)


def _ticks(schedule: Schedule, start: datetime) -> croniter:
    return croniter(
        schedule.cron,
        start.astimezone(schedule.zone),
        max_years_between_matches=FIRES_WITHIN_YEARS,
    )


def previous_tick(schedule: Schedule, now: datetime) -> datetime:
    """The latest tick at or before ``now`` (aware UTC). Raises CroniterError (a
    ``ValueError``) when there is none within :data:`FIRES_WITHIN_YEARS` years."""
    start = now.astimezone(UTC).replace(microsecond=0) + timedelta(seconds=1)
    it = _ticks(schedule, start)
    tick: datetime = it.get_prev(datetime).astimezone(UTC)
    for _ in range(_MAX_SKIPS):
        if not _skipped(schedule, tick):
            break
        tick = it.get_prev(datetime).astimezone(UTC)
    return tick


def next_tick(schedule: Schedule, after: datetime) -> datetime:
    """The first tick strictly after ``after`` (aware UTC). Raises CroniterError (a
    ``ValueError``) when there is none within :data:`FIRES_WITHIN_YEARS` years."""
    start = after.astimezone(UTC).replace(microsecond=0)
    it = _ticks(schedule, start)
    tick: datetime = it.get_next(datetime).astimezone(UTC)
    for _ in range(_MAX_SKIPS):
        if not _skipped(schedule, tick):
            break
        tick = it.get_next(datetime).astimezone(UTC)
    return tick


def _parse_one(index: int, raw: Any, validator: Any, seen: set[str]) -> Schedule:
    where = f"schedules[{index}]"
    if not isinstance(raw, dict):
        raise ScheduleError(f"{where} must be an object")
    unknown = sorted(set(raw) - SCHEDULE_KEYS)
    missing = sorted({"name", "cron", "message"} - set(raw))
    if unknown or missing:
        raise ScheduleError(
            f"{where} has unknown key(s) {unknown} or lacks {missing} "
            f"(keys: name, cron, message, timezone)"
        )
    name, cron, zone = raw["name"], raw["cron"], raw.get("timezone", "UTC")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ScheduleError(f"{where}.name {name!r} must match {NAME_RE.pattern}")
    if name in seen:
        raise ScheduleError(f"{where}.name {name!r} is used twice")
    seen.add(name)
    where = f"schedule {name!r}"
    if not isinstance(cron, str) or not (cron.startswith("@") or len(cron.split()) == 5):
        raise ScheduleError(f"{where}: cron must be five fields or an @-macro, not {cron!r}")
    try:
        croniter(cron)
    except (CroniterError, ValueError) as exc:
        raise ScheduleError(f"{where}: cron {cron!r} does not parse: {exc}") from None
    if not isinstance(zone, str) or not zone:
        raise ScheduleError(f"{where}: timezone must be an IANA name such as Europe/Paris")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ScheduleError(f"{where}: unknown timezone {zone!r} ({exc})") from None
    errors = validation_errors(validator, raw["message"])
    if errors:
        detail = "; ".join(f"{e['path']}: {e['message']}" for e in errors[:3])
        raise ScheduleError(f"{where}: message does not fit the queue's schema: {detail}")
    schedule = Schedule(name=name, cron=cron, message=raw["message"], timezone=zone)
    now = datetime.now(UTC)
    try:
        previous_tick(schedule, now)
        next_tick(schedule, now)
    except (CroniterError, ValueError, OverflowError):
        raise ScheduleError(
            f"{where}: cron {cron!r} has no tick within {FIRES_WITHIN_YEARS} years"
        ) from None
    return schedule


def parse_schedules(raw: Json, validator: Any) -> tuple[Schedule, ...]:
    """The ``schedules`` of a definition, each message checked with the queue's
    ``validator``. Raises ScheduleError."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ScheduleError("schedules must be a list")
    seen: set[str] = set()
    return tuple(_parse_one(i, item, validator, seen) for i, item in enumerate(raw))
