"""The faults a chaos run injects, on a schedule, and what each one recorded.

Two schedules run side by side while messages are pushed:

- every ``kill_every`` seconds, ``kill -9`` of a random running consumer (the supervisor
  starts a new one at once);
- ``outage_gap`` seconds after the last outage was undone, the next one, in turn: RabbitMQ
  ``stop_app`` for ``broker_seconds`` then ``start_app``; the store stopped for
  ``store_seconds`` and started again (MongoDB wire server only: the shared SQLite file has
  no server to stop); the gateway killed with ``kill -9`` and started again
  ``gateway_seconds`` later. Outages never overlap, and the calm between them lets the
  service recover, so the 503s inside one window belong to it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
from collections.abc import Awaitable, Callable

from tests.process.chaos.cluster import Slot, Supervisor, WireStore
from tests.support.brokers import PrivateRabbit

KILL = "consumer kill -9"


@dataclasses.dataclass
class Fault:
    """One injected fault: its kind, when it began and when the harness undid it (wall
    clock), and the pid it killed (kills only)."""

    kind: str
    began: float
    restored: float = 0.0
    pid: int | None = None
    replacement: int | None = None  # the pid started in its place (consumer kills)


@dataclasses.dataclass(frozen=True)
class Schedule:
    """When and for how long faults happen (seconds)."""

    kill_every: float = 3.0
    outage_gap: float = 10.0
    first_outage_after: float = 6.0
    broker_seconds: float = 10.0
    store_seconds: float = 8.0
    gateway_seconds: float = 2.0


class Injector:
    """Runs the two schedules until ``stop`` is set; every fault lands in :attr:`faults`."""

    def __init__(
        self,
        schedule: Schedule,
        supervisor: Supervisor,
        consumers: list[Slot],
        gateway: Slot,
        rabbit: PrivateRabbit,
        store: WireStore | None,
        seed: int,
    ) -> None:
        self.schedule, self.supervisor = schedule, supervisor
        self.consumers, self.gateway = consumers, gateway
        self.rabbit, self.store = rabbit, store
        self.random = random.Random(seed)
        self.faults: list[Fault] = []

    def outages(self) -> list[tuple[str, Callable[[Fault], Awaitable[None]]]]:
        """The outages in the order they take turns."""
        kinds: list[tuple[str, Callable[[Fault], Awaitable[None]]]] = [
            ("rabbitmq stop_app", self._broker)
        ]
        if self.store is not None:
            kinds.append(("store stopped", self._store))
        kinds.append(("gateway kill -9", self._gateway))
        return kinds

    async def kills(self, stop: asyncio.Event) -> None:
        while not await _sleep_or_stop(stop, self.schedule.kill_every):
            running = [s for s in self.consumers if s.proc is not None and s.proc.alive()]
            if not running:
                continue
            slot = self.random.choice(running)
            began = time.time()
            pid = self.supervisor.kill(slot)
            if pid is not None:
                self.supervisor.check()  # restart it now, not at the next check
                new = slot.proc.pid if slot.proc is not None else None
                self.faults.append(Fault(KILL, began, time.time(), pid, new))

    def _length(self, kind: str) -> float:
        """About how long an outage of ``kind`` takes (RabbitMQ's stop and start take ~5 s)."""
        s = self.schedule
        lengths = {"rabbitmq stop_app": s.broker_seconds + 6, "store stopped": s.store_seconds + 2}
        return lengths.get(kind, s.gateway_seconds + 1)

    async def outages_forever(self, stop: asyncio.Event, until: float) -> None:
        """Run outages in turn, each only if it can be over before ``until`` (wall clock) with
        the calm after it; an outage begun is always finished (even after ``stop``)."""
        turn = 0
        wait = self.schedule.first_outage_after
        kinds = self.outages()
        while not await _sleep_or_stop(stop, wait):
            kind, action = kinds[turn % len(kinds)]
            if time.time() + self._length(kind) + self.schedule.outage_gap > until:
                await stop.wait()
                return
            fault = Fault(kind, time.time())
            await action(fault)
            self.faults.append(fault)
            turn += 1
            wait = self.schedule.outage_gap

    async def _broker(self, fault: Fault) -> None:
        await self.rabbit.stop_app()
        await asyncio.sleep(self.schedule.broker_seconds)
        await self.rabbit.start_app()  # returns once the node accepts connections again
        fault.restored = time.time()

    async def _store(self, fault: Fault) -> None:
        assert self.store is not None
        await asyncio.to_thread(self.store.stop)
        await asyncio.sleep(self.schedule.store_seconds)
        await asyncio.to_thread(self.store.start)
        fault.restored = time.time()

    async def _gateway(self, fault: Fault) -> None:
        self.gateway.held = True
        fault.pid = self.supervisor.kill(self.gateway)
        await asyncio.sleep(self.schedule.gateway_seconds)
        self.gateway.held = False
        self.supervisor.check()
        fault.restored = time.time()


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep ``seconds``; True if ``stop`` was set (at once or meanwhile)."""
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        return False
    return True
