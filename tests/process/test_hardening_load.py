"""A broken handler or definition never takes a process down, at start, on hot reload or while
a handler runs: real ``conveyor`` processes (``serve``; ``gateway`` + ``consumer``; ``check``).

- a handler that raises ``SystemExit`` at import, a definition nested 100,000 deep, one over
  1 MiB and a cron that never fires are each one load error, logged once naming the file: the
  processes start and serve the other queues, ``conveyor check`` prints one line per file and
  exits 1, never a traceback;
- a handler rewritten to ``raise SystemExit(3)`` (or added raising ``KeyboardInterrupt``) under
  a running ``serve`` is a load error listed in ``GET /queues``'s ``load_errors``; the process
  keeps serving and reloading;
- a deeply nested definition present during hot reload does not block the others' changes;
- a ``services.py`` that fails (``SystemExit`` included) stops the start with one line, exit 3;
- ``sys.exit()`` or ``KeyboardInterrupt`` in a running handler, async or sync, ends that message
  ``ERROR``; the consumer goes on with the next one.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest

from shared.queues.definitions import MAX_DEFINITION_BYTES
from tests.support.api_client import http_call
from tests.support.brokers import RabbitNode
from tests.support.processes import Proc, clean_env, conveyor, http_args
from tests.support.queues import add_queue, write_json
from tests.support.serve import ServeProcess
from tests.support.services import delete_rabbit_queues, queue_prefix
from tests.support.tokens import claims
from tests.support.waiting import wait_until_sync

pytestmark = pytest.mark.slow

SECRET = "hardening-test-secret-" + "s" * 40
ROLES = {"roles": ["tester"]}
#: Handlers that end their run with what must not end the process (error type, message).
EXITING = {
    "exit_async": ("import sys\n\n\nasync def handle(message, ctx):\n    sys.exit(3)\n", "3"),
    "exit_sync": ("import sys\n\n\ndef handle(message, ctx):\n    sys.exit('bye')\n", "bye"),
    "interrupt_async": (
        "async def handle(message, ctx):\n    raise KeyboardInterrupt('stop')\n",
        "stop",
    ),
    "interrupt_sync": ("def handle(message, ctx):\n    raise KeyboardInterrupt('stop')\n", "stop"),
}


def token(roles: list[str] | None = None) -> str:
    return jwt.encode(claims(roles or ["tester"], ttl=600), SECRET, algorithm="HS256")


def define(queues_dir: Path, name: str, **extra: Any) -> Path:
    """``<name>.queue.json`` for the tester role (no handler written)."""
    document = {"name": name, "roles": ROLES, "incoming": {"schema": {}}, **extra}
    return write_json(queues_dir / f"{name}.queue.json", document)


def add_broken_files(queues_dir: Path) -> dict[str, Path]:
    """The four kinds of broken file, by kind: a handler raising SystemExit at import, a
    definition nested 100,000 deep, one over 1 MiB, and a cron that never fires."""
    add_queue(queues_dir, "orders", roles=ROLES)
    (queues_dir / "orders.py").write_text("raise SystemExit(3)\n")
    deep = queues_dir / "deep.queue.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    big = define(queues_dir, "big", description="x" * MAX_DEFINITION_BYTES)
    feb30 = {"name": "feb30", "cron": "0 0 30 2 *", "message": {}}  # 30 February
    add_queue(queues_dir, "never", roles=ROLES, schedules=[feb30])
    return {
        "handler": queues_dir / "orders.py",
        "deep": deep,
        "big": big,
        "cron": queues_dir / "never.queue.json",
    }


def lines_naming(text: str, path: Path) -> list[str]:
    return [line for line in text.splitlines() if str(path) in line]


def assert_one_line_each(text: str, files: list[Path]) -> None:
    """Each file is named by exactly one line of ``text``, and nothing printed a traceback."""
    for path in files:
        assert len(lines_naming(text, path)) == 1, (path, text)
    assert "Traceback" not in text, text


def push(url: str, queue: str, body: Any = None) -> str:
    status, record = http_call("POST", f"{url}/{queue}", body or {}, token())
    assert status == 201, (status, record)
    return str(record["id"])


def wait_final(
    url: str, queue: str, message_id: str, detail: Callable[[], str], within: float = 30
) -> dict[str, Any]:
    def final() -> dict[str, Any] | None:
        status, record = http_call("GET", f"{url}/{queue}/{message_id}", token=token())
        assert status == 200, (status, record)
        return record if record["status"] in ("COMPLETE", "ERROR") else None

    return wait_until_sync(final, f"/{queue}/{message_id} to be final", within, detail=detail)


def assert_serves(url: str, detail: Callable[[], str], queue: str = "echo") -> None:
    """A message pushed on ``queue`` (an echo handler) completes."""
    record = wait_final(url, queue, push(url, queue, {"n": 1}), detail)
    assert record["status"] == "COMPLETE", record


def load_errors(url: str) -> list[str]:
    status, body = http_call("GET", f"{url}/queues", token=token(["system_admin"]))
    assert status == 200, (status, body)
    errors: list[str] = body["load_errors"]
    return errors


def add_exiting_handlers(queues_dir: Path) -> None:
    for name, (source, _) in EXITING.items():
        define(queues_dir, name)
        (queues_dir / f"{name}.py").write_text(source)


def assert_exits_end_only_their_message(url: str, detail: Callable[[], str]) -> None:
    """Each exiting handler's message ends ``ERROR`` with its type and message, one after the
    other, and an ordinary message still completes afterwards."""
    for name, (_, message) in EXITING.items():
        record = wait_final(url, name, push(url, name), detail)
        kind = "SystemExit" if name.startswith("exit") else "KeyboardInterrupt"
        assert record["status"] == "ERROR", record
        assert record["error"] == {"type": kind, "message": message}, record
    assert_serves(url, detail)


# --- serve ------------------------------------------------------------------------------


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., ServeProcess]]:
    """Start ``conveyor serve`` on a fresh SQLite store (healthy before returned)."""
    started: list[ServeProcess] = []

    def start(queues_dir: Path, *extra: str) -> ServeProcess:
        store = f"sqlite:///{tmp_path / f'serve-{len(started)}.db'}"
        args = ["--store", store, "--handlers", str(queues_dir), *extra]
        proc = ServeProcess(
            args, clean_env(CONVEYOR_JWT_SECRET=SECRET), tmp_path / f"serve-{len(started)}.log"
        )
        started.append(proc)
        proc.wait_healthy()
        return proc

    yield start
    for proc in started:
        proc.close()


def test_check_prints_one_line_per_broken_file_and_exits_1(queues_dir: Path) -> None:
    broken = add_broken_files(queues_dir)
    done = conveyor("check", "--handlers", str(queues_dir))
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    assert_one_line_each(done.stdout + done.stderr, list(broken.values()))
    out = done.stdout
    assert "orders.py: handler does not import: SystemExit: 3" in out, out
    assert "deep.queue.json: nests arrays/objects more than 64 levels deep" in out, out
    assert "big.queue.json: is over 1 MiB" in out, out
    assert "cron '0 0 30 2 *' has no tick within 50 years" in out, out
    rows = [line.split() for line in out.splitlines()]
    assert any(row[:1] == ["echo"] and row[-2:] == ["ok", "ok"] for row in rows), out


def test_serve_starts_past_broken_files_naming_each_once(
    spawn: Callable[..., ServeProcess], queues_dir: Path
) -> None:
    broken = add_broken_files(queues_dir)
    serve = spawn(queues_dir)
    assert_serves(serve.url, serve.log)
    assert serve.proc.poll() is None, serve.log()
    assert_one_line_each(serve.log(), list(broken.values()))
    assert len(load_errors(serve.url)) == len(broken)


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("raise SystemExit(3)\n", "SystemExit: 3"),
        ("def create_services():\n    raise SystemExit('no db')\n", "SystemExit: no db"),
        ("x = 1\n", "services.py must define create_services()"),
    ],
)
def test_a_failing_services_file_stops_the_start_with_one_line(
    tmp_path: Path, queues_dir: Path, source: str, reason: str
) -> None:
    services = queues_dir / "services.py"
    services.write_text(source)
    _, listen = http_args()
    store = f"sqlite:///{tmp_path / 'c.db'}"
    env = clean_env(CONVEYOR_JWT_SECRET=SECRET)
    done = conveyor("serve", "--store", store, "--handlers", str(queues_dir), *listen, env=env)
    assert done.returncode == 3, (done.returncode, done.stderr)
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"conveyor: cannot start: {services}: "), done.stderr
    assert last.endswith(reason), done.stderr
    assert "Traceback" not in done.stderr, done.stderr


def test_serve_survives_handlers_that_exit_at_import_on_hot_reload(
    spawn: Callable[..., ServeProcess], queues_dir: Path
) -> None:
    add_queue(queues_dir, "orders", roles=ROLES)
    serve = spawn(queues_dir, "--reload-interval-seconds", "0.2")
    assert_serves(serve.url, serve.log, "orders")

    (queues_dir / "orders.py").write_text("raise SystemExit(3)\n")
    define(queues_dir, "interrupting")
    (queues_dir / "interrupting.py").write_text("raise KeyboardInterrupt\n")

    def reported() -> bool:
        assert serve.proc.poll() is None, serve.log()
        text = serve.log()
        return (
            "orders.py: handler does not import: SystemExit: 3" in text
            and "interrupting.py: handler does not import: KeyboardInterrupt" in text
        )

    wait_until_sync(reported, "both load errors logged", 30, detail=serve.log)
    errors = load_errors(serve.url)
    assert any(str(queues_dir / "orders.py") in e for e in errors), errors
    assert any(str(queues_dir / "interrupting.py") in e for e in errors), errors
    assert_serves(serve.url, serve.log)  # the other queues keep working
    assert_serves(serve.url, serve.log, "orders")  # at its last good version
    assert http_call("POST", f"{serve.url}/interrupting", {}, token())[0] == 404

    add_queue(queues_dir, "later", roles=ROLES)  # and reloading goes on
    wait_until_sync(
        lambda: http_call("POST", f"{serve.url}/later", {}, token())[0] == 201,
        "the queue added afterwards to be served",
        30,
        detail=serve.log,
    )
    assert serve.proc.poll() is None, serve.log()


def test_a_deeply_nested_definition_does_not_block_hot_reload(
    spawn: Callable[..., ServeProcess], queues_dir: Path
) -> None:
    serve = spawn(queues_dir, "--reload-interval-seconds", "0.2")
    deep = queues_dir / "deep.queue.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    add_queue(queues_dir, "fresh", roles=ROLES)
    wait_until_sync(
        lambda: http_call("POST", f"{serve.url}/fresh", {}, token())[0] == 201,
        "the queue added beside the deep definition to be served",
        30,
        detail=serve.log,
    )
    assert_serves(serve.url, serve.log, "fresh")
    assert any(str(deep) in e and "64 levels" in e for e in load_errors(serve.url))
    assert "Traceback" not in serve.log(), serve.log()


def test_sys_exit_and_keyboard_interrupt_in_running_handlers_end_only_their_message_serve(
    spawn: Callable[..., ServeProcess], queues_dir: Path
) -> None:
    add_exiting_handlers(queues_dir)
    serve = spawn(queues_dir, "--concurrency", "1")
    assert_exits_end_only_their_message(serve.url, serve.log)
    assert serve.proc.poll() is None, serve.log()


# --- gateway + consumer -----------------------------------------------------------------


class Pair:
    """A gateway and a consumer process on RabbitMQ and the MongoDB wire server."""

    def __init__(self, tmp: Path, flags: list[str]) -> None:
        port, listen = http_args()
        self.url = f"http://127.0.0.1:{port}"
        self.gateway = Proc(
            ["gateway", *flags, "--jwt-secret", SECRET, *listen], tmp / "gateway.log"
        ).start()
        self.consumer = Proc(["consumer", *flags], tmp / "consumer.log").start()
        self.gateway.wait_for_log("gateway listening")
        self.consumer.wait_for_log("consuming")

    def logs(self) -> str:
        return f"gateway:\n{self.gateway.text()}\nconsumer:\n{self.consumer.text()}"

    def alive(self) -> bool:
        return self.gateway.alive() and self.consumer.alive()


@pytest.fixture
def pair(
    tmp_path: Path, queues_dir: Path, mongo_url: str, rabbitmq: RabbitNode
) -> Iterator[Callable[[], Pair]]:
    """Start a gateway and a consumer over ``queues_dir`` (once it is filled)."""
    prefix = queue_prefix("htest")
    flags = ["--broker", rabbitmq.url, "--store", mongo_url, "--queue-prefix", prefix]
    flags += ["--mongo-database", f"h_{uuid.uuid4().hex[:10]}", "--handlers", str(queues_dir)]
    started: list[Pair] = []

    def start() -> Pair:
        started.append(Pair(tmp_path, flags))
        return started[-1]

    try:
        yield start
    finally:
        for made in started:
            for proc in (made.gateway, made.consumer):
                proc.kill()
                proc.popen.wait()
        names = [p.name.removesuffix(".queue.json") for p in queues_dir.glob("*.queue.json")]
        asyncio.run(delete_rabbit_queues(rabbitmq.url, prefix, names))


def test_gateway_and_consumer_start_past_broken_files_naming_each_once(
    pair: Callable[[], Pair], queues_dir: Path
) -> None:
    broken = add_broken_files(queues_dir)
    started = pair()
    assert_serves(started.url, started.logs)
    assert started.alive(), started.logs()
    # The gateway loads definitions only; the consumer imports the handlers too.
    definitions = [broken["deep"], broken["big"], broken["cron"]]
    assert_one_line_each(started.gateway.text(), definitions)
    assert_one_line_each(started.consumer.text(), list(broken.values()))


def test_sys_exit_and_keyboard_interrupt_in_running_handlers_end_only_their_message_distributed(
    pair: Callable[[], Pair], queues_dir: Path
) -> None:
    add_exiting_handlers(queues_dir)
    started = pair()
    assert_exits_end_only_their_message(started.url, started.logs)
    assert started.alive(), started.logs()
