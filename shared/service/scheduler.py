"""Running cron schedules (``shared.domain.cron``): exactly one push per tick.

Who runs it: every consumer process (``conveyor consumer``, and the consumer half of
``conveyor serve``) runs one :class:`Scheduler`; gateways only read the state for
``GET /queues``. Any number of them may run at once: they agree through the store.

One pass runs at start, at each tick, within a second of a hot reload, and a second after a
failed one (between those, no store query):

1. read every schedule's state (``shared.ports.schedules``; one query);
2. a schedule without a state, or whose cron or time zone changed (its fingerprint), is
   *anchored* at now: no tick at or before now fires (a new schedule never fires for the
   past; a changed one starts afresh);
3. otherwise, if the latest tick at or before now is later than the state's ``last_tick``,
   push the schedule's message under the tick's derived id (:func:`tick_message_id`) with
   :meth:`Messaging.push_once`: the store refuses a second record with that id, so of all the
   processes pushing that tick, and of a retry after a crash mid-push, exactly one makes the
   message; then move ``last_tick`` forward to it. Only the latest tick is pushed: ticks missed
   while nothing ran collapse into one push at the next start;
4. forget the states of schedules no longer in their (loaded) queue's definition. A queue
   that is not loaded keeps its states: it may only have failed to load in this process.

A schedule whose ticks cannot be computed (croniter fails on it; at load, a cron without a
tick within 50 years is refused) is skipped, logged once (until it works again or its
definition changes), and shown in ``GET /queues`` with ``next_run: null``: it never stops the
other schedules, nor ``GET /queues``.

Hot reload needs nothing more: each pass reads the current registry, so added, changed and
removed schedules take effect at the next pass. If a push fails (store or delivery down) the
state is not advanced and the next pass tries again.

Known limit: idempotency rests on the tick's record existing. A process that stalls between
reading the state and pushing, while another pushed the same tick whose message was then
finished and deleted (``DELETE`` or ``result_ttl_seconds``), could push that tick again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from shared.domain.cron import Schedule, next_tick, previous_tick, tick_message_id
from shared.domain.message import Json, iso
from shared.platform.clock import Clock
from shared.ports import ScheduleState, ScheduleStates, StoreUnavailable
from shared.queues.registry import LoadedQueue, Registry
from shared.service.errors import MessagingError, Unavailable
from shared.service.messaging import Messaging

log = logging.getLogger(__name__)

#: Longest wait between passes (real seconds): how soon a hot reload's schedules count.
POLL_SECONDS = 1.0


def _scheduled(registry: Registry) -> list[tuple[LoadedQueue, Schedule]]:
    return [(q, s) for q in registry.queues.values() for s in q.definition.schedules]


def _next_run(schedule: Schedule, state: ScheduleState | None, now: datetime) -> str | None:
    """The next tick (an overdue one if the next pass pushes it); None if it cannot be
    computed (the scheduler logs why)."""
    current = state if state is not None and state.fingerprint == schedule.fingerprint else None
    try:
        due = previous_tick(schedule, now)
        overdue = current is not None and due > current.last_tick  # the next pass pushes it
        return iso(due if overdue else next_tick(schedule, now))
    except Exception:  # one schedule's fault: the others, and GET /queues, still answer
        return None


def schedule_status(
    schedule: Schedule, state: ScheduleState | None, now: datetime
) -> dict[str, Json]:
    """One schedule as ``GET /queues`` (and ``ctx.messaging.schedules``) shows it; ``state``
    None: never run."""
    return {
        **schedule.to_json(),
        "next_run": _next_run(schedule, state, now),
        "last_message_id": state.last_message_id if state else None,
    }


class Scheduler:
    """Runs the registry's schedules (see the module docstring)."""

    def __init__(
        self,
        registry: Callable[[], Registry],
        messaging: Messaging,
        states: ScheduleStates,
        clock: Clock,
    ) -> None:
        self._registry = registry
        self._messaging = messaging
        self._states = states
        self.clock = clock
        self._last_registry: Registry | None = None
        #: (queue, schedule, fingerprint) of the schedules whose ticks failed to compute:
        #: logged once, not at every pass.
        self._broken: set[tuple[str, str, str]] = set()

    async def statuses(self) -> dict[str, list[dict[str, Json]]]:
        """Per queue with schedules: each one's cron, message, ``next_run`` and
        ``last_message_id``. Raises Unavailable."""
        scheduled = _scheduled(self._registry())
        if not scheduled:
            return {}
        try:
            states = await self._states.schedule_states()
        except StoreUnavailable:
            raise Unavailable("the message store is unavailable") from None
        known = {(s.queue, s.name): s for s in states}
        now = self.clock.now()
        out: dict[str, list[dict[str, Json]]] = {}
        for queue, schedule in scheduled:
            state = known.get((queue.name, schedule.name))
            out.setdefault(queue.name, []).append(schedule_status(schedule, state, now))
        return out

    async def run_pass(self) -> datetime | None:
        """One pass; the earliest next tick, or None (no schedule, or a push failed: pass
        again soon). Raises StoreUnavailable when the states cannot be read."""
        registry = self._registry()
        scheduled = _scheduled(registry)
        if not scheduled and registry is self._last_registry:
            return None
        known = await self._states.schedule_states()
        self._last_registry = registry
        by_key = {(s.queue, s.name): s for s in known}
        now = self.clock.now()
        wake: datetime | None = None
        failed = False
        for queue, schedule in scheduled:
            key = (queue.name, schedule.name, schedule.fingerprint)
            try:
                await self._run_one(queue, schedule, by_key.get((queue.name, schedule.name)), now)
                after = next_tick(schedule, now)
            except (MessagingError, StoreUnavailable) as exc:
                failed = True
                log.warning(
                    "schedule %s of queue %s: push failed, retrying: %s",
                    schedule.name,
                    queue.name,
                    exc,
                    extra={"queue": queue.name, "schedule": schedule.name},
                )
                continue
            except Exception:  # this schedule's fault: never the other schedules'
                self._broke(key, schedule)
                continue
            if key in self._broken:
                self._broken.discard(key)
                log.info("schedule %s of queue %s works again", schedule.name, queue.name)
            wake = after if wake is None else min(wake, after)
        self._broken &= {(q.name, s.name, s.fingerprint) for q, s in scheduled}
        await self._forget_removed(registry, known)
        return None if failed else wake

    def _broke(self, key: tuple[str, str, str], schedule: Schedule) -> None:
        """Log a schedule whose ticks cannot be computed, once until it works again."""
        if key in self._broken:
            return
        self._broken.add(key)
        log.exception(
            "schedule %s of queue %s (%s %s) skipped: its ticks cannot be computed",
            schedule.name,
            key[0],
            schedule.cron,
            schedule.timezone,
            extra={"queue": key[0], "schedule": schedule.name},
        )

    async def _run_one(
        self, queue: LoadedQueue, schedule: Schedule, state: ScheduleState | None, now: datetime
    ) -> None:
        if state is None or state.fingerprint != schedule.fingerprint:
            anchor = ScheduleState(
                queue.name,
                schedule.name,
                schedule.fingerprint,
                now,
                state.last_message_id if state else None,
            )
            if await self._states.anchor_schedule(anchor):
                log.info(
                    "schedule %s of queue %s (%s %s) starts; first tick %s",
                    schedule.name,
                    queue.name,
                    schedule.cron,
                    schedule.timezone,
                    iso(next_tick(schedule, now)),
                )
            return
        tick = previous_tick(schedule, now)
        if tick <= state.last_tick:
            return
        message_id = tick_message_id(queue.name, schedule.name, tick)
        record = await self._messaging.push_once(
            queue, schedule.message, message_id, request_id=f"schedule:{schedule.name}"
        )
        await self._states.advance_schedule(
            queue.name, schedule.name, schedule.fingerprint, tick, message_id
        )
        if record is not None:
            log.info(
                "schedule %s of queue %s pushed message %s for tick %s",
                schedule.name,
                queue.name,
                message_id,
                iso(tick),
                extra={"queue": queue.name, "schedule": schedule.name, "message_id": message_id},
            )

    async def _forget_removed(self, registry: Registry, known: list[ScheduleState]) -> None:
        gone: dict[str, list[str]] = {}
        for state in known:
            queue = registry.get(state.queue)
            if queue is not None and state.name not in {s.name for s in queue.definition.schedules}:
                gone.setdefault(state.queue, []).append(state.name)
        for queue_name, names in gone.items():
            await self._states.forget_schedules(queue_name, names)
            log.info("schedules %s of queue %s removed", ", ".join(names), queue_name)

    async def run(self) -> None:
        """Pass after pass (see the module docstring) until cancelled; never raises otherwise."""
        wake: datetime | None = None
        seen: Registry | None = None
        while True:
            registry = self._registry()
            if wake is None or registry is not seen or self.clock.now() >= wake:
                seen, wake = registry, None
                try:
                    wake = await self.run_pass()
                except StoreUnavailable as exc:
                    log.warning("scheduler: the store is unavailable: %s", exc)
                except Exception:  # the scheduler must never take the process down
                    log.exception("scheduler pass failed")
            await self.clock.sleep_until(wake, POLL_SECONDS)
