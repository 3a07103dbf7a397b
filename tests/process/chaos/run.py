"""One chaos run from start to verdict (the whole story: ``tests/process/chaos/__init__.py``).

Order: private RabbitMQ node → store → gateway and consumers → pushes at a steady rate with
both fault schedules running → the last outage is undone → every accepted message's record
is read until all are final or the settle time is up → the verdict → every process stopped,
the node halted. The run directory keeps every log and the handler's run log.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from pathlib import Path

from tests.process.chaos.cluster import Layout, Supervisor, WireStore, private_rabbit
from tests.process.chaos.faults import Injector, Schedule
from tests.process.chaos.load import Pusher, final_records, token
from tests.process.chaos.verdict import Verdict, judge, read_runs
from tests.support.sockets import free_port


@dataclasses.dataclass(frozen=True)
class Options:
    """What a run does; the command line's flags (``python -m tests.process.chaos --help``)."""

    workdir: Path
    messages: int = 2000
    rate: float = 8.0
    consumers: int = 3
    store: str = "mongo"  # or "sqlite": one SQLite file shared by every process
    lease_seconds: float = 5.0
    handler_seconds: float = 1.0
    settle_seconds: float = 180.0
    seed: int = 1
    schedule: Schedule = dataclasses.field(default_factory=Schedule)


@dataclasses.dataclass
class Outcome:
    verdict: Verdict
    seconds: float  # wall time of the whole run, node boot included
    push_seconds: float  # how long the pushes (and the faults) went on


async def _ready(supervisor: Supervisor) -> None:
    """Wait until the gateway listens and every consumer consumes."""
    for slot in supervisor.slots:
        assert slot.proc is not None
        needle = "gateway listening" if slot.role == "gateway" else "consuming"
        await asyncio.to_thread(slot.proc.wait_for_log, needle, 90.0)


async def chaos(options: Options) -> Outcome:
    """Run it; raises :class:`tests.process.chaos.cluster.Unavailable` without RabbitMQ or
    mongoeco."""
    began = time.time()
    root = options.workdir
    root.mkdir(parents=True, exist_ok=True)
    store = None
    if options.store == "mongo":
        store = WireStore(root / "store.sqlite", root / "store.log")
    with private_rabbit() as rabbit:
        store_url = store.url if store else f"sqlite:///{root / 'shared.db'}"
        layout = Layout(root, store_url, rabbit.url, options.lease_seconds)
        layout.write_queue()
        port = free_port()
        gateway = layout.gateway_slot(port)
        consumers = [layout.consumer_slot(n) for n in range(options.consumers)]
        supervisor = Supervisor([gateway, *consumers])
        watching, faulting = asyncio.Event(), asyncio.Event()
        try:
            if store is not None:
                store.start()
            supervisor.start_all()
            await _ready(supervisor)
            watch = asyncio.create_task(supervisor.run(watching))
            pushes_end = time.time() + options.messages / options.rate
            injector = Injector(
                options.schedule, supervisor, consumers, gateway, rabbit, store, options.seed
            )
            fault_tasks = [
                asyncio.create_task(injector.kills(faulting)),
                asyncio.create_task(injector.outages_forever(faulting, pushes_end)),
            ]
            base, bearer = f"http://127.0.0.1:{port}", token(layout.secret)
            pusher = Pusher(base, bearer, layout.runs_log, options.handler_seconds, options.seed)
            pushing = time.time()
            await pusher.run(options.messages, options.rate)
            push_seconds = time.time() - pushing
            pusher.save(root / "pushes.log")
            faulting.set()
            await asyncio.gather(*fault_tasks)  # the outage under way is undone first
            records = await final_records(base, bearer, pusher.accepted(), options.settle_seconds)
            watching.set()
            await watch
            verdict = judge(
                pusher.pushes,
                records,
                read_runs(layout.runs_log),
                injector.faults,
                supervisor.kills,
                supervisor.exits,
            )
        finally:
            watching.set()
            faulting.set()
            supervisor.stop_all()
            if store is not None:
                with contextlib.suppress(Exception):
                    store.stop()
    return Outcome(verdict, time.time() - began, push_seconds)
