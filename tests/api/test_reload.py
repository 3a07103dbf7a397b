"""Hot reload: editing, adding or removing queue files in ``--handlers`` takes effect in a
running Conveyor (polling, and SIGHUP on a real ``conveyor serve``), per queue, keeping the
last good version of a queue whose edit is broken.

Handlers come from tests/fixtures/queues/reload (``versioned_v1.py``/``versioned_v2.py``: they
return their version, optionally holding the message until the test releases it).
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import signal
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest

from conveyor.serve import Served
from shared.adapters.inprocess.queues import InProcessDelivery
from shared.adapters.rabbitmq.broker import RabbitDelivery
from shared.ports import Delivered, WorkQueue
from shared.queues.registry import Registry, load_registry
from shared.queues.reload import merge
from tests.support.api_client import Api, StartConveyor, http_call
from tests.support.brokers import RabbitNode
from tests.support.handler_files import exists, touch
from tests.support.paths import RELOAD_DIR
from tests.support.processes import Proc, clean_env, http_args
from tests.support.queues import add_queue, write_json
from tests.support.responses import error_list
from tests.support.serve import ServeProcess
from tests.support.services import delete_rabbit_queues, queue_prefix, require_rabbitmq
from tests.support.tokens import claims
from tests.support.waiting import wait_until, wait_until_sync

INTERVAL = 0.2
ROLES = {"roles": ["tester"]}
BROKEN_HANDLER = 'async def handle(message, ctx) ->\n    return {"version": "broken"}\n'


def versioned(queues_dir: Path, name: str, version: int) -> None:
    """Write ``<name>.py`` as version ``version`` of the test handler."""
    shutil.copyfile(RELOAD_DIR / f"versioned_v{version}.py", queues_dir / f"{name}.py")


def definition(queues_dir: Path, name: str, schema: Any = None) -> Path:
    document = {"name": name, "roles": ROLES, "incoming": {"schema": schema or {}}}
    return write_json(queues_dir / f"{name}.queue.json", document)


def add_versioned(queues_dir: Path, name: str, version: int = 1) -> None:
    versioned(queues_dir, name, version)
    definition(queues_dir, name)


async def start(start_conveyor: StartConveyor, **overrides: Any) -> Served:
    return await start_conveyor(reload_interval_seconds=INTERVAL, **overrides)


async def run(api: Api, queue: str, body: Any, token: str) -> dict[str, Any]:
    """POST and wait for the final record."""
    return await api.wait_final(queue, await api.push(queue, body, token), token)


async def until_version(api: Api, queue: str, token: str, version: int) -> None:
    """Push messages until one completes with ``version`` (the reload is applied)."""

    async def served() -> bool:
        record = await run(api, queue, {}, token)
        assert record["status"] == "COMPLETE", record
        return bool(record["result"] == {"version": version})

    await wait_until(served, f"/{queue} to run version {version}")


async def until_status(api: Api, queue: str, token: str, status: int) -> None:
    """POST ``{}`` until the answer is ``status``."""

    async def answered() -> int | None:
        resp = await api.post(queue, {}, token)
        return resp.status if resp.status == status else None

    await wait_until(answered, f"POST /{queue} to answer {status}")


async def until_logged(caplog: pytest.LogCaptureFixture, text: str, since: int) -> None:
    """Wait for a log record (after the ``since``-th) containing ``text``."""
    await wait_until(
        lambda: any(text in r.getMessage() for r in caplog.records[since:]), f"log {text!r}"
    )


@pytest.fixture
def token(api_for: Any) -> Callable[[Served], tuple[Api, str]]:
    """The client and a tester token for a started Conveyor."""

    def make(served: Served) -> tuple[Api, str]:
        api: Api = api_for(served)
        return api, api.keys.token(["tester"])

    return make


async def test_changed_handler_serves_new_messages_while_in_flight_keeps_its_code(
    start_conveyor: StartConveyor, token: Any, queues_dir: Path, tmp_path: Path
) -> None:
    add_versioned(queues_dir, "ver", 1)
    api, tok = token(await start(start_conveyor))
    assert (await run(api, "ver", {}, tok))["result"] == {"version": 1}
    marker, release = tmp_path / "started", tmp_path / "release"
    held = await api.push("ver", {"marker": str(marker), "release": str(release)}, tok)
    await wait_until(lambda: exists(marker), "the held message to start")

    versioned(queues_dir, "ver", 2)
    await until_version(api, "ver", tok, 2)
    touch(release)
    record = await api.wait_final("ver", held, tok)
    assert record["status"] == "COMPLETE", record
    assert record["result"] == {"version": 1}, "the in-flight message changed code"
    assert (await run(api, "echo", {"n": 1}, tok))["status"] == "COMPLETE"


async def test_added_queue_is_served_and_consumed(
    start_conveyor: StartConveyor, token: Any, queues_dir: Path
) -> None:
    api, tok = token(await start(start_conveyor))
    error = await error_list(await api.post("fresh", {}, tok), 404)
    assert "fresh" in str(error)

    add_versioned(queues_dir, "fresh", 2)
    await until_status(api, "fresh", tok, 201)
    record = await run(api, "fresh", {}, tok)
    assert record["status"] == "COMPLETE" and record["result"] == {"version": 2}, record
    assert (await run(api, "echo", {"n": 1}, tok))["status"] == "COMPLETE"


async def test_removed_queue_answers_404_and_can_come_back(
    start_conveyor: StartConveyor, token: Any, queues_dir: Path
) -> None:
    served = await start(start_conveyor)
    api, tok = token(served)
    done = await api.push("echo", {"n": 0}, tok)
    assert (await api.wait_final("echo", done, tok))["status"] == "COMPLETE"
    saved = {
        suffix: (queues_dir / f"echo{suffix}").read_bytes() for suffix in (".queue.json", ".py")
    }
    for suffix in saved:
        (queues_dir / f"echo{suffix}").unlink()
    try:
        await until_status(api, "echo", tok, 404)
        await error_list(await api.get(f"/echo/{done}", tok), 404)
        assert (await run(api, "slow", {"seconds": 0}, tok))["status"] == "COMPLETE"

        for suffix, content in saved.items():
            (queues_dir / f"echo{suffix}").write_bytes(content)
        await until_status(api, "echo", tok, 201)
        record = await run(api, "echo", {"n": 2}, tok)
        assert record["status"] == "COMPLETE" and record["result"]["echo"] == {"n": 2}, record
    finally:
        settings = served.runtime.settings
        if settings.broker is not None and not (queues_dir / "echo.queue.json").exists():
            await delete_rabbit_queues(settings.broker, settings.queue_prefix, ["echo"])


async def test_broken_definition_keeps_last_good_until_fixed(
    start_conveyor: StartConveyor,
    token: Any,
    queues_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="shared.queues.reload")
    add_versioned(queues_dir, "ver", 1)
    api, tok = token(await start(start_conveyor))
    seen = len(caplog.records)
    (queues_dir / "ver.queue.json").write_text('{"name": "ver", "incoming": ')
    await until_logged(caplog, "queue ver kept at its last good version", seen)
    assert any("ver.queue.json" in r.getMessage() for r in caplog.records[seen:])
    assert (await run(api, "ver", {}, tok))["result"] == {"version": 1}

    seen = len(caplog.records)
    definition(queues_dir, "ver", {"$schema": "nope", "type": 12})
    await until_logged(caplog, "queue ver kept at its last good version", seen)
    assert (await run(api, "ver", {}, tok))["result"] == {"version": 1}

    definition(queues_dir, "ver", {"type": "object", "required": ["x"]})
    await until_status(api, "ver", tok, 422)
    record = await run(api, "ver", {"x": 1}, tok)
    assert record["status"] == "COMPLETE" and record["result"] == {"version": 1}, record


async def test_broken_handler_keeps_last_good_until_fixed(
    start_conveyor: StartConveyor,
    token: Any,
    queues_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="shared.queues.reload")
    add_versioned(queues_dir, "ver", 1)
    api, tok = token(await start(start_conveyor))
    seen = len(caplog.records)
    (queues_dir / "ver.py").write_text(BROKEN_HANDLER)
    await until_logged(caplog, "queue ver kept at its last good version", seen)
    assert any("SyntaxError" in r.getMessage() for r in caplog.records[seen:])
    assert (await api.post("ver", {}, tok)).status == 201
    assert (await run(api, "ver", {}, tok))["result"] == {"version": 1}

    versioned(queues_dir, "ver", 2)
    await until_version(api, "ver", tok, 2)


async def test_queues_flag_limits_what_an_added_queue_starts(
    start_conveyor: StartConveyor, token: Any, queues_dir: Path
) -> None:
    """With ``--queues``, a queue added outside the list is accepted but not consumed."""
    served = await start(start_conveyor, queues=("echo", "wanted"))
    api, tok = token(served)
    add_versioned(queues_dir, "wanted", 1)
    add_versioned(queues_dir, "unwanted", 1)
    await until_status(api, "wanted", tok, 201)
    await until_status(api, "unwanted", tok, 201)
    assert (await run(api, "wanted", {}, tok))["status"] == "COMPLETE"
    assert sorted(served.consumer.queues) == ["echo", "wanted"]
    pending = await api.push("unwanted", {}, tok)
    await asyncio.sleep(0.5)
    resp = await api.get(f"/unwanted/{pending}", tok)
    assert (await resp.json())["status"] == "PENDING"


async def test_polling_off_reloads_only_when_asked(
    start_conveyor: StartConveyor, token: Any, queues_dir: Path
) -> None:
    add_versioned(queues_dir, "ver", 1)
    served = await start_conveyor(reload_interval_seconds=0)
    api, tok = token(served)
    versioned(queues_dir, "ver", 2)
    await asyncio.sleep(3 * INTERVAL)
    assert (await run(api, "ver", {}, tok))["result"] == {"version": 1}
    served.reloader.request()
    await until_version(api, "ver", tok, 2)


def test_merge_keeps_untouched_queues_as_the_same_objects(queues_dir: Path) -> None:
    """A reload replaces only what changed: untouched queues keep their very objects."""
    current = load_registry(queues_dir, with_handlers=True)
    loaded = load_registry(queues_dir, with_handlers=True)
    present = {p.name.removesuffix(".queue.json") for p in queues_dir.glob("*.queue.json")}
    merged, report = merge(current, loaded, present, {"echo"}, queues_dir)
    assert report.changed == ["echo"] and not (report.added or report.removed or report.kept)
    assert merged.queues["echo"] is loaded.queues["echo"]
    assert merged.queues["slow"] is current.queues["slow"]
    merged, report = merge(current, Registry(), present - {"slow"}, set(), queues_dir)
    assert report.removed == ["slow"]
    assert sorted(report.kept) == sorted(present - {"slow"})
    assert "slow" not in merged.queues and merged.queues["echo"] is current.queues["echo"]


# --- SIGHUP on a real ``conveyor serve`` ---------------------------------------------------

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


# --- per-queue stop_consuming, both delivery adapters ----------------------------------------


@pytest.fixture(params=["inprocess", "rabbitmq"])
async def delivery(request: pytest.FixtureRequest) -> AsyncIterator[WorkQueue]:
    """An opened delivery of each adapter (RabbitMQ: a unique prefix, deleted afterwards)."""
    names = ["one", "two"]
    if request.param == "inprocess":
        inprocess = InProcessDelivery()
        await inprocess.open(names)
        yield inprocess
        await inprocess.close()
        return
    url = require_rabbitmq()
    prefix = queue_prefix()
    rabbit = RabbitDelivery(url, prefix=prefix)
    try:
        await rabbit.open(names)
        yield rabbit
    finally:
        await rabbit.close()
        await delete_rabbit_queues(url, prefix, names)


async def test_stop_consuming_some_queues_leaves_the_others(delivery: WorkQueue) -> None:
    got: asyncio.Queue[Delivered] = asyncio.Queue()

    async def inbox(item: Delivered) -> None:
        got.put_nowait(item)

    async def take() -> Delivered:
        item = await asyncio.wait_for(got.get(), 10)
        await item.ack()
        return item

    await delivery.consume(["one", "two"], inbox, 4)
    await delivery.stop_consuming(["one"])
    await delivery.publish("one", "m1")
    await delivery.publish("two", "m2")
    item = await take()
    assert (item.queue, item.message_id) == ("two", "m2")
    await asyncio.sleep(0.5)
    assert got.empty(), "a stopped queue was still delivered"

    await delivery.consume(["one"], inbox, 4)
    item = await take()
    assert (item.queue, item.message_id) == ("one", "m1")
    await delivery.publish("two", "m3")
    item = await take()
    assert (item.queue, item.message_id) == ("two", "m3")
    await delivery.stop_consuming()
    await delivery.publish("two", "m4")
    await asyncio.sleep(0.5)
    assert got.empty(), "delivered after stop_consuming()"


# --- SIGHUP on real ``conveyor gateway`` + ``conveyor consumer`` (distributed) -------------


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


def ttl_definition(queues_dir: Path, name: str, ttl: float) -> None:
    """``<name>.queue.json`` with ``result_ttl_seconds`` (the versioned handler beside it)."""
    document = {"name": name, "roles": ROLES, "result_ttl_seconds": ttl, "incoming": {"schema": {}}}
    write_json(queues_dir / f"{name}.queue.json", document)


@pytest.mark.parametrize("mode", ["embedded"], indirect=True)
async def test_an_in_flight_message_keeps_the_expiry_of_the_definition_it_started_with(
    start_conveyor: StartConveyor, token: Any, queues_dir: Path, tmp_path: Path
) -> None:
    versioned(queues_dir, "ttl", 1)
    ttl_definition(queues_dir, "ttl", 3600)
    api, tok = token(await start(start_conveyor))
    marker, release = tmp_path / "started", tmp_path / "release"
    held = await api.push("ttl", {"marker": str(marker), "release": str(release)}, tok)
    await wait_until(lambda: exists(marker), "the held message to start")

    ttl_definition(queues_dir, "ttl", 1)  # results of new messages now expire after 1 s
    versioned(queues_dir, "ttl", 2)  # lets the test see when the reload is applied
    await until_version(api, "ttl", tok, 2)
    touch(release)
    assert (await api.wait_final("ttl", held, tok))["status"] == "COMPLETE"

    # A message finished after the held one, under the new definition, does expire ...
    fresh_id = str((await run(api, "ttl", {}, tok))["id"])

    async def fresh_gone() -> bool:  # result_ttl_seconds 1; the expiry sweep runs every 2 s
        return bool((await api.get(f"/ttl/{fresh_id}", tok)).status == 404)

    await wait_until(fresh_gone, "the new definition's 1 s expiry", interval=0.2)
    # ... the held one, finished earlier, kept the 3600 s of the definition it started with.
    assert (await api.get(f"/ttl/{held}", tok)).status == 200
