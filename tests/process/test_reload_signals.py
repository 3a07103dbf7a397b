"""Hot reload by SIGHUP on real processes: a ``conveyor serve`` with polling off, and a gateway
and consumers in distributed mode (the reload tests through HTTP: tests/api/test_reload.py)."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest

from tests.support.api_client import http_call
from tests.support.brokers import RabbitNode
from tests.support.processes import Proc, clean_env, http_args
from tests.support.queues import add_queue, add_versioned, versioned
from tests.support.serve import ServeProcess
from tests.support.services import delete_rabbit_queues, queue_prefix
from tests.support.tokens import claims
from tests.support.waiting import wait_until_sync

ROLES = {"roles": ["tester"]}
SECRET = "reload-test-secret-" + "s" * 40


@pytest.fixture
def serve_process(tmp_path: Path, queues_dir: Path) -> Iterator[ServeProcess]:
    """``conveyor serve`` with polling off over ``queues_dir`` (with queue ``ver`` v1)."""
    add_versioned(queues_dir, "ver", 1)
    (tmp_path / "db").mkdir()  # a SQLite store's directory must exist
    args = [
        "--store",
        f"sqlite:///{tmp_path / 'db' / 'conveyor.db'}",
        "--handlers",
        str(queues_dir),
        "--reload-interval-seconds",
        "0",
    ]
    proc = ServeProcess(args, clean_env(CONVEYOR_JWT_SECRET=SECRET), tmp_path / "serve.log")
    try:
        proc.wait_healthy()
        yield proc
    finally:
        proc.close()


def process_result(proc: ServeProcess, queue: str) -> Any:
    """POST ``{}`` to ``queue`` and wait for the final record's result."""
    tok = jwt.encode(claims(["tester"], ttl=600), SECRET, algorithm="HS256")
    status, record = http_call("POST", f"{proc.url}/{queue}", {}, tok)
    assert status == 201, (status, record, proc.log())
    return wait_final(proc.url, queue, record["id"], tok, proc.log)["result"]


def wait_final(
    url: str, queue: str, message_id: str, tok: str, log: Callable[[], str]
) -> dict[str, Any]:
    """Poll ``GET {url}/{queue}/{message_id}`` until COMPLETE or ERROR; the record."""

    def final() -> dict[str, Any] | None:
        status, record = http_call("GET", f"{url}/{queue}/{message_id}", token=tok)
        assert status == 200, (status, record)
        return record if record["status"] in ("COMPLETE", "ERROR") else None

    return wait_until_sync(final, f"/{queue}/{message_id} to be final", 30, detail=log)


@pytest.mark.slow
def test_sighup_reloads_a_serve_process_with_polling_off(
    serve_process: ServeProcess, queues_dir: Path
) -> None:
    proc = serve_process
    assert process_result(proc, "ver") == {"version": 1}
    versioned(queues_dir, "ver", 2)
    add_queue(queues_dir, "later", roles=ROLES)
    time.sleep(1.5)  # longer than one default polling interval (1 s): it would have reloaded
    assert process_result(proc, "ver") == {"version": 1}, "reloaded without SIGHUP"

    proc.proc.send_signal(signal.SIGHUP)
    wait_until_sync(
        lambda: process_result(proc, "ver") == {"version": 2},
        "SIGHUP to reload /ver to version 2",
        interval=0.1,
        detail=proc.log,
    )
    assert process_result(proc, "later")["echo"] == {}
    log = proc.log()
    assert "hot reload (SIGHUP)" in log and "added: later" in log, log
    assert proc.proc.poll() is None, "SIGHUP stopped the process"


@pytest.fixture
def distributed_procs(
    tmp_path: Path, queues_dir: Path, mongo_url: str, rabbitmq: RabbitNode
) -> Iterator[tuple[list[str], list[Proc]]]:
    """Flags for gateway/consumer processes (polling off) and the list they are kept in."""
    broker = rabbitmq.url
    prefix = queue_prefix("ptest")
    database = f"r_{uuid.uuid4().hex[:10]}"
    flags = ["--broker", broker, "--store", mongo_url, "--mongo-database", database]
    flags += ["--queue-prefix", prefix, "--handlers", str(queues_dir)]
    flags += ["--reload-interval-seconds", "0"]
    procs: list[Proc] = []
    try:
        yield flags, procs
    finally:
        for proc in procs:
            proc.kill()
            proc.popen.wait()
        names = [p.name.removesuffix(".queue.json") for p in queues_dir.glob("*.queue.json")]
        asyncio.run(delete_rabbit_queues(broker, prefix, [*names, "gone"]))


@pytest.mark.slow
def test_sighup_reloads_gateway_and_consumer_processes(
    distributed_procs: tuple[list[str], list[Proc]], queues_dir: Path, tmp_path: Path
) -> None:
    flags, procs = distributed_procs
    add_versioned(queues_dir, "gone", 1)
    port, listen = http_args()
    gateway = Proc(
        ["gateway", *flags, "--jwt-secret", SECRET, *listen], tmp_path / "gateway.log"
    ).start()
    consumer = Proc(["consumer", *flags], tmp_path / "consumer.log").start()
    procs += [gateway, consumer]
    gateway.wait_for_log("gateway listening")
    consumer.wait_for_log("consuming")
    url = f"http://127.0.0.1:{port}"
    tok = jwt.encode(claims(["tester"], ttl=600), SECRET, algorithm="HS256")

    add_versioned(queues_dir, "fresh", 2)
    for suffix in (".queue.json", ".py"):
        (queues_dir / f"gone{suffix}").unlink()
    assert http_call("POST", f"{url}/fresh", {}, tok)[0] == 404, "reloaded without SIGHUP"
    for proc in (gateway, consumer):
        proc.kill(signal.SIGHUP)
    consumer.wait_for_log("consuming fresh")
    consumer.wait_for_log("stopped consuming gone")
    gateway.wait_for_log("hot reload (SIGHUP)")
    assert "added: fresh; changed: echo" in gateway.text(), gateway.text()
    assert "removed: gone;" in gateway.text(), gateway.text()
    status, record = http_call("POST", f"{url}/fresh", {}, tok)
    assert status == 201, (status, record)
    assert http_call("POST", f"{url}/gone", {}, tok)[0] == 404
    record = wait_final(url, "fresh", record["id"], tok, consumer.text)
    assert (record["status"], record["result"]) == ("COMPLETE", {"version": 2}), record
    assert gateway.alive() and consumer.alive(), "SIGHUP stopped a process"
