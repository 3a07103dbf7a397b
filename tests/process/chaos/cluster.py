"""The processes of one chaos run: a private RabbitMQ node, the store, a gateway and
consumers, each started, killed and started again by the harness.

Every process is a real ``python -m conveyor`` (or the MongoDB wire server) with its log
in the run directory; a restarted process appends to the same log. :class:`Supervisor`
plays the orchestrator: a consumer or gateway that exits is started again within a second
(a consumer started while the store or broker is down exits with ``cannot start``; the
harness does not rely on any start-up retry of its own).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from tests.support.brokers import PrivateRabbit, start_private_rabbit
from tests.support.processes import Proc
from tests.support.queues import add_queue
from tests.support.services import WIRE_SCRIPT, mongo_python
from tests.support.sockets import free_port, port_open
from tests.support.waiting import wait_until_sync

QUEUE = "chaoslog"
ROLE = "tester"


class Unavailable(Exception):
    """A service the harness needs is missing (RabbitMQ, the MongoDB wire server)."""


@contextlib.contextmanager
def private_rabbit() -> Iterator[PrivateRabbit]:
    """A private RabbitMQ node (tests/support/brokers.py) for the run; halted and removed after it.

    Raises :class:`Unavailable` when it cannot be started (``tests.support.services.unavailable``
    raises pytest's skip/fail outcome, a BaseException, even outside pytest).
    """
    node = contextlib.contextmanager(start_private_rabbit)()
    with contextlib.ExitStack() as stack:
        try:
            rabbit = stack.enter_context(node)
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt | SystemExit | GeneratorExit):
                raise
            raise Unavailable(f"private RabbitMQ node: {exc}") from None
        yield rabbit  # leaving the stack halts the node and removes its files


class WireStore:
    """The MongoDB wire server on a SQLite file: stopped and started again, it keeps its data."""

    def __init__(self, path: Path, log: Path) -> None:
        python = mongo_python()
        if not python or not Path(python).exists():
            raise Unavailable(
                "no MongoDB wire server: set MONGOECO_PYTHON (see docs/reliability.md)"
            )
        self.python, self.path, self.log = python, path, log
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    def start(self) -> None:
        """Start it and return once it listens."""
        args = [self.python, str(WIRE_SCRIPT), "--port", str(self.port), "--sqlite", str(self.path)]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
        proc = self.proc

        def up() -> bool:
            assert proc.poll() is None, f"the wire server exited:\n{self.log.read_text()[-2000:]}"
            return port_open("127.0.0.1", self.port, 0.2)

        wait_until_sync(up, "the MongoDB wire server to listen", 30, interval=0.1)

    def stop(self) -> None:
        """Stop it (SIGTERM, as an operator or orchestrator would; SIGKILL after 10 s)."""
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


@dataclasses.dataclass
class Exit:
    """A supervised process that ended: which, its pid, when (wall clock), and how."""

    role: str
    pid: int
    at: float
    returncode: int
    killed_by_harness: bool


@dataclasses.dataclass
class Slot:
    """One supervised process (a consumer or the gateway), restarted whenever it ends."""

    role: str
    args: list[str]
    log: Path
    proc: Proc | None = None
    held: bool = False  # the harness keeps it down on purpose (gateway outage)
    killing: set[int] = dataclasses.field(default_factory=set)

    def start(self) -> Proc:
        self.proc = Proc(self.args, self.log).start(env={"PYTHONUNBUFFERED": "1"})
        return self.proc


class Supervisor:
    """Starts the gateway and the consumers, kills them on request, and restarts each one
    that ends (killed or exited on its own) within ``interval`` seconds.

    Every kill and every exit is recorded with its wall-clock time: the verdict uses kill
    times to close the handler runs that a ``kill -9`` cut short.
    """

    def __init__(self, slots: list[Slot], interval: float = 1.0) -> None:
        self.slots = slots
        self.interval = interval
        self.exits: list[Exit] = []
        self.kills: dict[int, float] = {}  # pid -> when the harness sent SIGKILL
        self.started: dict[int, tuple[str, float]] = {}  # pid -> (role, when)

    def start_all(self) -> None:
        for slot in self.slots:
            self._start(slot)

    def _start(self, slot: Slot) -> None:
        proc = slot.start()
        self.started[proc.pid] = (slot.role, time.time())

    def kill(self, slot: Slot) -> int | None:
        """``kill -9`` the slot's process; its pid (None if it was not running)."""
        proc = slot.proc
        if proc is None or not proc.alive():
            return None
        slot.killing.add(proc.pid)
        self.kills[proc.pid] = time.time()
        os.kill(proc.pid, signal.SIGKILL)
        proc.popen.wait()  # reaped: the next check() sees it gone and starts another
        return proc.pid

    def check(self) -> None:
        """Record each ended process and start its slot again (unless held down)."""
        for slot in self.slots:
            proc = slot.proc
            if proc is not None and not proc.alive():
                code = proc.popen.returncode
                by_us = proc.pid in slot.killing
                self.exits.append(Exit(slot.role, proc.pid, time.time(), code, by_us))
                slot.proc = None
            if slot.proc is None and not slot.held:
                self._start(slot)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.check()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval)

    def stop_all(self) -> None:
        """SIGTERM every process and wait for it (SIGKILL after 30 s)."""
        for slot in self.slots:
            slot.held = True
            if slot.proc is not None and slot.proc.alive():
                with contextlib.suppress(subprocess.TimeoutExpired):
                    slot.proc.stop(timeout=30)


@dataclasses.dataclass(frozen=True)
class Layout:
    """Where a run keeps its files, and the flags its conveyor processes share."""

    root: Path
    store_url: str
    broker_url: str
    lease_seconds: float
    secret: str = dataclasses.field(default_factory=lambda: "chaos-" + uuid.uuid4().hex * 2)

    @property
    def handlers(self) -> Path:
        return self.root / "queues"

    @property
    def runs_log(self) -> Path:
        return self.root / "runs.log"

    def common(self) -> list[str]:
        return [
            "--broker", self.broker_url, "--store", self.store_url,
            "--mongo-database", "chaos", "--queue-prefix", "chaos.",
            "--handlers", str(self.handlers), "--lease-seconds", str(self.lease_seconds),
            "--republish-after-seconds", "2", "--log-level", "info",
        ]  # fmt: skip

    def write_queue(self) -> None:
        """The ``chaoslog`` queue with this package's handler."""
        self.handlers.mkdir(parents=True, exist_ok=True)
        add_queue(self.handlers, QUEUE, roles={"roles": [ROLE]})
        handler = Path(__file__).with_name("handler.py")
        (self.handlers / f"{QUEUE}.py").write_text(handler.read_text())

    def gateway_slot(self, port: int) -> Slot:
        args = ["gateway", *self.common(), "--jwt-secret", self.secret]
        args += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
        return Slot("gateway", args, self.root / "gateway.log")

    def consumer_slot(self, n: int) -> Slot:
        args = ["consumer", *self.common(), "--sweep-interval-seconds", "1"]
        args += ["--concurrency", "8", "--grace-seconds", "5"]
        return Slot(f"consumer-{n}", args, self.root / f"consumer-{n}.log")
