"""``conveyor gateway|consumer --processes N`` as real processes: a parent and its children
on the shared RabbitMQ (a queue prefix of each test's own) and one SQLite file.

The parent logs ``<command> child <i> started (pid <pid>)`` for each child it starts; the
tests find the children there, and check them against ``/proc`` (Linux).
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
import signal
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.api_client import http_call
from tests.support.brokers import RabbitNode
from tests.support.metrics import parse, value
from tests.support.processes import Proc, clean_env, conveyor, http_args
from tests.support.services import delete_rabbit_queues, queue_prefix
from tests.support.sockets import free_port
from tests.support.tokens import HS_SECRET, Keys
from tests.support.waiting import wait_until_sync

pytestmark = [pytest.mark.slow]

STARTED = re.compile(r"(\w+) child (\d+) started \(pid (\d+)\)")


@dataclass
class Group:
    """Flags shared by one test's processes, and the processes it started."""

    tmp: Path
    queues: Path
    flags: list[str]
    prefix: str
    rabbitmq: RabbitNode
    procs: list[Proc] = field(default_factory=list)

    def start(self, *args: str, name: str) -> Proc:
        proc = Proc([*args, *self.flags], self.tmp / f"{name}.log").start()
        self.procs.append(proc)
        return proc

    def gateway(self, *extra: str) -> tuple[Proc, int]:
        port, listen = http_args()
        proc = self.start("gateway", "--jwt-secret", HS_SECRET, *listen, *extra, name="gateway")
        return proc, port


@pytest.fixture
def group(tmp_path: Path, queues_dir: Path, rabbitmq: RabbitNode) -> Iterator[Group]:
    prefix = queue_prefix("ptest")
    flags = ["--broker", rabbitmq.url, "--queue-prefix", prefix, "--handlers", str(queues_dir)]
    flags += ["--store", f"sqlite:///{tmp_path / 'shared.db'}"]
    made = Group(tmp_path, queues_dir, flags, prefix, rabbitmq)
    try:
        yield made
    finally:
        for proc in made.procs:
            children = started(proc)
            proc.kill()
            proc.popen.wait()
            for pid in children.values():  # a parent killed outright: its children get SIGTERM
                wait_until_sync(ended(pid), f"child {pid} to end", 30)
        names = [p.name.removesuffix(".queue.json") for p in queues_dir.glob("*.queue.json")]
        asyncio.run(delete_rabbit_queues(rabbitmq.url, prefix, names))


def started(proc: Proc) -> dict[int, int]:
    """Child index → pid of the latest child the parent started, from its log."""
    return {int(i): int(pid) for _, i, pid in STARTED.findall(proc.text())}


def running(pid: int) -> bool:
    """``pid`` is a live process (not a zombie)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def ended(pid: int) -> Callable[[], bool]:
    return lambda: not running(pid)


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


def wait_listening(proc: Proc, children: int) -> None:
    """Until the parent's log shows ``children`` gateways listening."""
    wait_until_sync(
        lambda: proc.text().count("gateway listening") >= children or not proc.alive(),
        f"{children} gateways listening",
        60,
        detail=proc.text,
    )
    assert proc.alive(), proc.text()


def test_gateway_child_killed_with_sigkill_is_replaced_and_the_port_keeps_answering(
    group: Group,
) -> None:
    metrics = free_port()
    proc, port = group.gateway("--processes", "2", "--metrics-port", str(metrics))
    wait_listening(proc, 2)
    first = started(proc)
    assert sorted(first) == [0, 1] and all(parent_of(pid) == proc.pid for pid in first.values())

    os.kill(first[0], signal.SIGKILL)
    proc.wait_for_log(f"child 0 (pid {first[0]}) exited with status -9")
    # Child 0 is gone and not yet back: child 1 alone answers every new connection.
    for _ in range(20):
        assert http_call("GET", f"http://127.0.0.1:{port}/healthz")[0] == 200

    wait_until_sync(lambda: started(proc)[0] != first[0], "a new child 0", 30, detail=proc.text)
    again = started(proc)
    assert again[1] == first[1] and parent_of(again[0]) == proc.pid
    # The new child 0 serves its own metrics port again (--metrics-port + 0).
    wait_until_sync(lambda: answers(f"http://127.0.0.1:{metrics}/healthz"), "child 0 back", 60)
    assert http_call("GET", f"http://127.0.0.1:{port}/healthz")[0] == 200


def test_a_push_is_counted_once_in_the_children_metrics(group: Group, keys: Keys) -> None:
    metrics = free_port()
    proc, port = group.gateway("--processes", "2", "--metrics-port", str(metrics))
    wait_listening(proc, 2)
    token = keys.token(["tester"])
    for n in range(10):  # each on a new connection: the kernel picks the child
        status, _ = http_call("POST", f"http://127.0.0.1:{port}/echo", {"n": n}, token)
        assert status == 201

    counts = []
    for child in (0, 1):
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics + child}/metrics") as resp:
            samples = parse(resp.read().decode())
        counts.append(value(samples, "conveyor_pushes_total", queue="echo", code="201"))
    assert sum(counts) == 10, counts


def test_sigterm_to_the_parent_stops_every_child_and_the_parent_exits_0(group: Group) -> None:
    proc, _ = group.gateway("--processes", "2")
    wait_listening(proc, 2)
    children = started(proc)

    assert proc.stop(60) == 0, proc.text()
    assert not [pid for pid in children.values() if running(pid)]
    assert proc.text().count("gateway closed") == 2, proc.text()
    assert "all 2 gateway children stopped" in proc.text()


def test_consumer_processes_each_consume(group: Group, keys: Keys) -> None:
    gateway, port = group.gateway()
    wait_listening(gateway, 1)
    # Prefetch 1 per child: a child holds one message at a time, so RabbitMQ hands the
    # slow messages to both children.
    flags = ["--processes", "2", "--concurrency", "1", "--grace-seconds", "5"]
    consumer = group.start("consumer", *flags, name="consumer")
    queue = group.prefix + "runlog"

    async def consumers() -> int:
        return (await group.rabbitmq.counts(queue)).consumers

    wait_until_sync(lambda: asyncio.run(consumers()) == 2, "2 consumers", 60, detail=consumer.text)
    token = keys.token(["tester"])
    log = group.tmp / "runs.log"
    ids = []
    for _ in range(4):
        body = {"log": str(log), "seconds": 1}
        status, answer = http_call("POST", f"http://127.0.0.1:{port}/runlog", body, token)
        assert status == 201, answer
        ids.append(answer["id"])

    def final(mid: str) -> dict[str, object] | None:
        _, record = http_call("GET", f"http://127.0.0.1:{port}/runlog/{mid}", token=token)
        return record if record and record["status"] == "COMPLETE" else None

    pids = set()
    for mid in ids:
        record = wait_until_sync(functools.partial(final, mid), f"{mid} complete", 60)
        pids.add(record["result"]["pid"])  # type: ignore[index]
    assert pids == set(started(consumer).values()), (pids, consumer.text())
    assert len(pids) == 2

    # Each child is a worker of its own in GET /workers, its id naming the child.
    reader = keys.token(["system_reader"])

    def workers() -> list[dict[str, object]] | None:
        status, answer = http_call("GET", f"http://127.0.0.1:{port}/workers", token=reader)
        assert status == 200, answer
        live = [w for w in answer["workers"] if w["state"] == "live"]
        return live if len(live) == 2 else None

    listed = wait_until_sync(workers, "both children's heartbeats", 30)
    assert {w["pid"] for w in listed} == pids
    assert sorted(str(w["id"]).split(":")[1][-7:] for w in listed) == ["-child0", "-child1"]
    assert consumer.stop(60) == 0, consumer.text()


def test_a_child_that_keeps_failing_at_start_ends_the_parent_with_one_line(
    group: Group,
) -> None:
    # No verification key while queues need auth: every child exits 2 at once.
    _, listen = http_args()
    proc = group.start("gateway", "--processes", "2", *listen, name="gateway")
    status = proc.popen.wait(120)
    text = proc.text()
    assert status == 3, text
    last = text.strip().splitlines()[-1]
    assert re.fullmatch(
        r"conveyor: cannot start: gateway child \d failed at start 5 times in a row "
        r"\(last exit status 2; its log lines say why\)",
        last,
    ), last
    assert text.count("no token verification key configured") <= 10
    assert "starting it again in 4.0 s" in text  # backed off, not spinning


@pytest.mark.parametrize("how", ["flag", "variable"])
def test_serve_refuses_processes_with_one_line(tmp_path: Path, how: str) -> None:
    store = f"sqlite:///{tmp_path / 'c.db'}"
    if how == "flag":
        done = conveyor("serve", "--processes", "2", "--store", store)
    else:
        done = conveyor("serve", "--store", store, env=clean_env(CONVEYOR_PROCESSES="2"))
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "conveyor: --processes 2: conveyor serve is one process; run conveyor gateway and "
        "conveyor consumer (with --broker) for several"
    ]
