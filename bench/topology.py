"""The four ways to run Conveyor the suite compares, started fresh for each run.

- ``embedded``: ``conveyor serve`` (SQLite store, in-process delivery), one process;
- ``broker``: ``conveyor serve --broker`` (SQLite store, RabbitMQ delivery), one process;
- ``shared-1`` / ``shared-2``: ``conveyor gateway`` plus 1 or 2 ``conveyor consumer``
  processes on one SQLite file, RabbitMQ delivery.

:class:`Topology` is an async context manager: on entry every process is ready (``/readyz``
answers and each consumer is attached to the broker queue), on exit they are stopped and the
run's uniquely prefixed RabbitMQ queues deleted. Every process verifies RS256 tokens against
the suite's public key, logs at ``warning`` without an access log, stops without the load
balancers' drain delay (``--drain-seconds 0``), and consumes with ``--concurrency``
(prefetch) ``CONCURRENCY``.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import uuid
from pathlib import Path
from types import TracebackType

from bench.common import (
    BROKER,
    QUEUES,
    Keys,
    Proc,
    delete_queues,
    free_port,
    wait_consumers,
    wait_ready,
)

TOPOLOGIES = ("embedded", "broker", "shared-1", "shared-2")
CONCURRENCY = 64
#: ``--event-loop`` of every Conveyor process (``python -m bench --event-loop uvloop``);
#: ``default`` passes none, so each process runs on its own default (``auto`` since
#: issue 19; older trees know only ``asyncio`` and ``uvloop``).
EVENT_LOOPS = ("asyncio", "uvloop", "auto", "default")
EVENT_LOOP = ["asyncio"]


class Topology:
    """One topology's processes on a fresh SQLite file in a temporary directory."""

    def __init__(
        self,
        name: str,
        keys: Keys,
        handlers: Path = QUEUES,
        consumers_later: bool = False,
    ) -> None:
        if name not in TOPOLOGIES:
            raise ValueError(f"unknown topology {name}")
        self.name = name
        self.tmp = Path(tempfile.mkdtemp(prefix=f"conveyor-bench-{name}-"))
        self.db = self.tmp / "bench.db"
        self.prefix = f"bench.{uuid.uuid4().hex[:10]}."
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.keys = keys
        self.handlers = handlers
        self.consumers_later = consumers_later
        self.server: Proc | None = None  # serve or gateway
        self.consumers: list[Proc] = []

    @property
    def uses_broker(self) -> bool:
        return self.name != "embedded"

    @property
    def procs(self) -> list[Proc]:
        return ([self.server] if self.server else []) + self.consumers

    @property
    def names(self) -> list[str]:
        """A name per process of :attr:`procs`: ``serve`` or ``gateway``, ``consumer N``."""
        server = ["serve" if self.name in ("embedded", "broker") else "gateway"]
        return server[: 1 if self.server else 0] + [
            f"consumer {n + 1}" for n in range(len(self.consumers))
        ]

    def _common(self, handlers: Path, consumes: bool = True) -> list[str]:
        args = ["--store", f"sqlite:///{self.db}", "--handlers", str(handlers)]
        args += ["--log-level", "warning"]
        if EVENT_LOOP[0] != "default":
            args += ["--event-loop", EVENT_LOOP[0]]
        if consumes:
            args += ["--concurrency", str(CONCURRENCY)]
        if self.uses_broker:
            args += ["--broker", BROKER, "--queue-prefix", self.prefix]
        return args

    def _http(self) -> list[str]:
        # --drain-seconds 0: a run is over when it stops, so skip the 2 s for load balancers
        args = ["--port", str(self.port), "--jwt-public-key", str(self.keys.pem)]
        return [*args, "--no-access-log", "--drain-seconds", "0"]

    async def __aenter__(self) -> Topology:
        try:
            await self._start()
        except BaseException:
            await self.close()
            raise
        return self

    async def _start(self) -> None:
        command = "serve" if self.name in ("embedded", "broker") else "gateway"
        args = [command, *self._common(self.handlers, command == "serve"), *self._http()]
        self.server = Proc(args, self.tmp / f"{command}.log")
        await wait_ready(f"{self.base}/readyz", self.server)
        if not self.consumers_later:
            self.start_consumers()

    def start_consumers(self) -> None:
        """Start the ``shared-N`` topology's N consumer processes (at once, one after another)."""
        if self.name.startswith("shared-"):
            for n in range(int(self.name.split("-")[1])):
                args = ["consumer", *self._common(self.handlers)]
                self.consumers.append(Proc(args, self.tmp / f"consumer-{n}.log"))

    async def wait_consumers(self, queue: str) -> None:
        """Until every consumer process of this topology consumes ``queue`` on the broker."""
        expected = len(self.consumers) or 1
        if self.uses_broker:
            await wait_consumers(BROKER, f"{self.prefix}{queue}", expected)

    async def close(self) -> None:
        for proc in self.procs:  # all shut down together, then each is reaped
            proc.terminate()
        for proc in self.procs:
            await asyncio.to_thread(proc.stop)
        if self.uses_broker:
            names = {p.name.removesuffix(".queue.json") for p in self.handlers.glob("*.queue.json")}
            await delete_queues(BROKER, self.prefix, sorted(names))
        await asyncio.to_thread(shutil.rmtree, self.tmp, True)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
