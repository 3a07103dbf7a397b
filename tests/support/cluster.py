"""Distributed mode as real processes: gateways and consumers sharing flags, a broker, a store."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.brokers import RabbitNode
from tests.support.processes import Proc, http_args
from tests.support.services import delete_rabbit_queues
from tests.support.tokens import HS_SECRET

CONSUMER_FLAGS = ["--sweep-interval-seconds", "1", "--grace-seconds", "5"]


@dataclass
class Cluster:
    """Flags shared by the processes of one test, the broker they use, the processes started."""

    tmp: Path
    flags: list[str]
    prefix: str
    rabbitmq: RabbitNode
    procs: list[Proc] = field(default_factory=list)

    def gateway(self, *extra: str) -> tuple[Proc, str]:
        port, listen = http_args()
        proc = Proc(
            ["gateway", *self.flags, "--jwt-secret", HS_SECRET, *listen, *extra],
            self.tmp / f"gateway-{port}.log",
        ).start()
        self.procs.append(proc)
        proc.wait_for_log("gateway listening")
        return proc, f"http://127.0.0.1:{port}"

    def consumer(self, *extra: str) -> Proc:
        n = len(self.procs)
        args = ["consumer", *self.flags, *CONSUMER_FLAGS, *extra]
        proc = Proc(args, self.tmp / f"consumer-{n}.log").start()
        self.procs.append(proc)
        proc.wait_for_log("consuming")
        return proc

    def close(self, queues_dir: Path) -> None:
        """Kill every process, then delete the broker queues of ``queues_dir``'s queues."""
        for proc in self.procs:
            proc.kill()
            proc.popen.wait()
        names = [p.name.removesuffix(".queue.json") for p in queues_dir.glob("*.queue.json")]
        asyncio.run(delete_rabbit_queues(self.rabbitmq.url, self.prefix, names))


@contextmanager
def cluster_of(
    tmp: Path, flags: list[str], prefix: str, rabbitmq: RabbitNode, handlers: Path
) -> Iterator[Cluster]:
    """A :class:`Cluster`; on exit its processes are killed and the broker queues of the
    definitions in ``handlers`` under ``prefix`` deleted (also when the test failed)."""
    made = Cluster(tmp, flags, prefix, rabbitmq)
    try:
        yield made
    finally:
        made.close(handlers)
