"""Processes that cannot start, or could never work, say so in one line and exit non-zero.

Each case runs the real ``conveyor`` command as a subprocess (``python -m conveyor``):

- exit 2 before anything is opened: ``gateway``/``consumer`` without ``--broker``, a missing
  ``--handlers`` directory, ``--store sqlite:///`` without a file name or in a missing
  directory;
- exit 3 while starting: a port in use (``serve``, ``gateway``, ``consumer --metrics-port``),
  an unresolvable ``--host``, and a store or broker still unreachable at the end of
  ``--start-timeout-seconds`` (1 here; MongoDB and RabbitMQ are closed local ports, never the
  shared broker);
- a store that comes up within the window is waited for (one log line per attempt);
- an empty handlers directory starts with one warning, not one per reload tick.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.support.api_client import http_call
from tests.support.brokers import RabbitNode
from tests.support.paths import QUEUES_DIR
from tests.support.processes import Proc, clean_env, conveyor, http_args
from tests.support.services import (
    RABBITMQ_URL,
    WIRE_SCRIPT,
    delete_rabbit_queues,
    mongo_python,
    queue_prefix,
    unavailable,
)
from tests.support.sockets import free_port

pytestmark = pytest.mark.slow

SECRET = "startup-test-secret-" + "s" * 40
#: Lines of the start-up retry (``shared.platform.startup``), the only ones allowed before the
# reason.
ATTEMPT = "shared.platform.startup: "
CHATTER = ("Traceback", "Topology", "aiormq", "aio_pika", "Reconnecting", "ServerDescription")


def closed_port() -> int:
    """A local port nothing listens on (just freed)."""
    return free_port()


def one_line(done: subprocess.CompletedProcess[str], status: int, *needles: str) -> str:
    """Exit ``status`` with one ``conveyor: ...`` line last on stderr naming ``needles``;
    before it only the start-up retry's own lines, never a traceback or a driver's chatter."""
    assert done.returncode == status, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert lines, "no reason given"
    reason = lines[-1]
    assert reason.startswith("conveyor: "), done.stderr
    for needle in needles:
        assert needle in reason, reason
    for bad in CHATTER:
        assert bad not in done.stderr, done.stderr
    return reason


def only_line(done: subprocess.CompletedProcess[str], status: int, *needles: str) -> str:
    """:func:`one_line`, and nothing else on stderr."""
    reason = one_line(done, status, *needles)
    assert done.stderr.strip() == reason, done.stderr
    return reason


def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'c.db'}"


# --- exit 2: could never work -------------------------------------------------------------


@pytest.mark.parametrize("command", ["gateway", "consumer"])
def test_gateway_and_consumer_need_a_broker(tmp_path: Path, command: str) -> None:
    done = conveyor(
        command,
        "--store",
        store_url(tmp_path),
        "--handlers",
        str(QUEUES_DIR),
        env=clean_env(CONVEYOR_JWT_SECRET=SECRET),
        cwd=tmp_path,
    )
    reason = only_line(done, 2, "--broker", "serve")
    assert command in reason
    assert not (tmp_path / "c.db").exists(), "nothing is opened"


@pytest.mark.parametrize("command", ["serve", "consumer"])
def test_a_missing_handlers_directory_is_a_start_error(tmp_path: Path, command: str) -> None:
    missing = tmp_path / "no-such-handlers"
    extra = {
        "serve": ["--port", "0"],
        "consumer": ["--broker", f"amqp://guest:guest@127.0.0.1:{closed_port()}/"],
    }
    done = conveyor(
        command,
        "--store",
        store_url(tmp_path),
        "--handlers",
        str(missing),
        *extra[command],
        cwd=tmp_path,
    )
    only_line(done, 2, "--handlers", str(missing), "no such directory")
    assert not (tmp_path / "c.db").exists()


def test_a_sqlite_store_in_a_missing_directory_is_refused(tmp_path: Path) -> None:
    typo = tmp_path / "some" / "typo" / "x.db"
    store = ["--store", f"sqlite:///{typo}"]
    for args in (["serve", *store, "--handlers", str(QUEUES_DIR)], ["token", *store]):
        done = conveyor(*args, cwd=tmp_path)
        only_line(done, 2, "--store", str(typo.parent), "no such directory")
    assert not (tmp_path / "some").exists(), "no directory (nor conveyor.secret) was created"


@pytest.mark.parametrize("url", ["sqlite:///", "sqlite:///some/dir/"])
def test_a_sqlite_store_without_a_file_name_is_refused(tmp_path: Path, url: str) -> None:
    done = conveyor("serve", "--store", url, "--handlers", str(QUEUES_DIR), cwd=tmp_path)
    only_line(done, 2, "--store", "file name")


def test_the_default_store_needs_no_directory_check(tmp_path: Path) -> None:
    """``./conveyor.db`` (the default) is created in the working directory, as always."""
    done = conveyor("token", "--roles", "a", "--create-secret", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "conveyor.secret").is_file()


# --- exit 3: a port, a host ---------------------------------------------------------------


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port some other program listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


@pytest.mark.parametrize("flag", ["--port", "--metrics-port"])
def test_serve_on_a_port_in_use(tmp_path: Path, busy_port: int, flag: str) -> None:
    ports = {"--port": "0", "--metrics-port": "0", flag: str(busy_port)}
    done = conveyor(
        "serve",
        *[item for pair in ports.items() for item in pair],
        "--store",
        store_url(tmp_path),
        "--handlers",
        str(QUEUES_DIR),
        cwd=tmp_path,
    )
    reason = one_line(done, 3, f"127.0.0.1:{busy_port}", flag, "already in use")
    assert reason.startswith("conveyor: cannot start: "), reason
    assert sorted(p.name for p in tmp_path.iterdir()) == [], "no database, no secret left"


def test_serve_on_an_unresolvable_host(tmp_path: Path) -> None:
    done = conveyor(
        "serve",
        "--host",
        "no-such-host.invalid",
        "--port",
        "0",
        "--store",
        store_url(tmp_path),
        "--handlers",
        str(QUEUES_DIR),
        cwd=tmp_path,
    )
    one_line(done, 3, "--host", "no-such-host.invalid", "not a resolvable address")


@pytest.fixture
def broker_prefix(rabbitmq: RabbitNode) -> Iterator[tuple[str, str]]:
    """The shared broker's URL and a queue prefix of this test's own (deleted at the end)."""
    prefix = queue_prefix("ptest")
    yield rabbitmq.url, prefix
    names = [p.name.removesuffix(".queue.json") for p in QUEUES_DIR.glob("*.queue.json")]
    asyncio.run(delete_rabbit_queues(rabbitmq.url, prefix, names))


@pytest.mark.parametrize("command, flag", [("gateway", "--port"), ("consumer", "--metrics-port")])
def test_gateway_and_consumer_on_a_port_in_use(
    tmp_path: Path, busy_port: int, broker_prefix: tuple[str, str], command: str, flag: str
) -> None:
    broker, prefix = broker_prefix
    done = conveyor(
        command,
        flag,
        str(busy_port),
        "--broker",
        broker,
        "--queue-prefix",
        prefix,
        "--store",
        store_url(tmp_path),
        "--handlers",
        str(QUEUES_DIR),
        env=clean_env(CONVEYOR_JWT_SECRET=SECRET),
        cwd=tmp_path,
    )
    one_line(done, 3, f"127.0.0.1:{busy_port}", flag, "already in use")
    assert not (tmp_path / "c.db").exists(), "the store was not opened"
    declared = asyncio.run(existing_queues(broker, [prefix + "echo", prefix + "echo.dead"]))
    assert declared == [], "nothing was declared on the broker"


async def existing_queues(url: str, names: list[str]) -> list[str]:
    """Those of ``names`` that exist on the broker (a passive declare of each)."""
    import aio_pika
    from aio_pika.exceptions import ChannelNotFoundEntity

    found = []
    async with await aio_pika.connect(url, timeout=10) as connection:
        for name in names:
            channel = await connection.channel()
            try:
                await channel.declare_queue(name, passive=True)
                found.append(name)
            except ChannelNotFoundEntity:
                pass
    return found


# --- exit 3: a store or broker unreachable for the whole window ---------------------------


def test_unreachable_mongodb_is_one_line_with_host_port_and_cause(tmp_path: Path) -> None:
    mongo, amqp = closed_port(), closed_port()
    done = conveyor(
        "consumer",
        "--store",
        f"mongodb://127.0.0.1:{mongo}",
        "--broker",
        f"amqp://guest:guest@127.0.0.1:{amqp}/",
        "--handlers",
        str(QUEUES_DIR),
        "--start-timeout-seconds",
        "1",
        cwd=tmp_path,
    )
    reason = one_line(done, 3, f"127.0.0.1:{mongo}", "Connection refused", "--start-timeout")
    assert "store" in reason
    assert len(reason) < 250, reason
    assert str(amqp) not in done.stderr, "the broker is not tried before the store is open"


@pytest.mark.parametrize("command", ["consumer", "gateway"])
def test_unreachable_rabbitmq_is_one_line_after_one_line_per_attempt(
    tmp_path: Path, command: str
) -> None:
    amqp = closed_port()
    started = time.monotonic()
    done = conveyor(
        command,
        "--store",
        store_url(tmp_path),
        "--broker",
        f"amqp://guest:guest@127.0.0.1:{amqp}/",
        "--handlers",
        str(QUEUES_DIR),
        "--start-timeout-seconds",
        "1",
        env=clean_env(CONVEYOR_JWT_SECRET=SECRET),
        cwd=tmp_path,
    )
    elapsed = time.monotonic() - started
    reason = one_line(done, 3, f"127.0.0.1:{amqp}", "Connection refused", "broker")
    lines = done.stderr.strip().splitlines()
    attempts = [line for line in lines if ATTEMPT in line]
    assert attempts, "each failed attempt but the last is logged"
    assert all(f"127.0.0.1:{amqp}" in line for line in attempts), attempts
    assert "(attempt 1," in attempts[0], attempts
    assert not [line for line in lines if " ERROR " in line], done.stderr
    assert "2 attempts" in reason or "3 attempts" in reason, reason
    assert elapsed >= 1, "it kept trying for the window"


@pytest.mark.parametrize("command", ["consumer", "gateway"])
def test_a_refused_rabbitmq_login_is_one_line_at_once(tmp_path: Path, command: str) -> None:
    """The shared broker, a wrong password (nothing on the broker changes): no retry, no
    "unreachable", and the password is not in the line."""
    broker = urlsplit(RABBITMQ_URL)
    wrong = broker._replace(netloc=f"guest:not-the-password@{broker.hostname}:{broker.port}")
    done = conveyor(
        command,
        "--store",
        store_url(tmp_path),
        "--broker",
        urlunsplit(wrong),
        "--handlers",
        str(QUEUES_DIR),
        "--start-timeout-seconds",
        "30",
        env=clean_env(CONVEYOR_JWT_SECRET=SECRET),
        cwd=tmp_path,
    )
    reason = one_line(done, 3, "RabbitMQ at", "refused the login for user 'guest'")
    assert "unreachable" not in done.stderr and ATTEMPT not in done.stderr, done.stderr
    assert "not-the-password" not in done.stderr, done.stderr
    assert len(reason) < 250, reason


# --- retried at start: a store that comes up within the window ----------------------------


def start_mongo_wire_on(port: int, log: Path) -> subprocess.Popen[bytes]:
    python = mongo_python()
    if not python or not Path(python).exists():
        unavailable("no MongoDB wire server Python (MONGOECO_PYTHON)")
    with log.open("ab") as out:
        return subprocess.Popen(
            [python, str(WIRE_SCRIPT), "--port", str(port)], stdout=out, stderr=out
        )


@pytest.mark.parametrize("command", ["consumer", "gateway"])
def test_a_store_that_comes_up_within_the_window_is_waited_for(
    tmp_path: Path, broker_prefix: tuple[str, str], command: str
) -> None:
    broker, prefix = broker_prefix
    mongo = closed_port()
    port, listen = http_args()
    extra = listen if command == "gateway" else ["--metrics-port", str(port)]
    proc = Proc(
        [
            command,
            "--store",
            f"mongodb://127.0.0.1:{mongo}/?directConnection=true&serverSelectionTimeoutMS=500",
            "--mongo-database",
            f"s_{prefix.replace('.', '_')[-20:]}",
            "--broker",
            broker,
            "--queue-prefix",
            prefix,
            "--handlers",
            str(QUEUES_DIR),
            "--start-timeout-seconds",
            "60",
            *extra,
        ],
        tmp_path / f"{command}.log",
    ).start(env={"CONVEYOR_JWT_SECRET": SECRET})
    wire: subprocess.Popen[bytes] | None = None
    try:
        proc.wait_for_log("the store is unreachable (attempt 2,")
        wire = start_mongo_wire_on(mongo, tmp_path / "wire.log")
        ready = "gateway listening" if command == "gateway" else "consuming"
        proc.wait_for_log(ready, within=60)
        assert http_call("GET", f"http://127.0.0.1:{port}/healthz", timeout=5)[0] == 200
        assert proc.stop() == 0, proc.text()
        text = proc.text()
        assert text.count("the store is unreachable (attempt 1,") == 1, text
        assert "Traceback" not in text and "Topology" not in text, text
    finally:
        proc.kill()
        proc.popen.wait()
        if wire is not None:
            wire.terminate()
            wire.wait(10)


# --- an empty handlers directory ----------------------------------------------------------


def test_an_empty_handlers_directory_warns_once(tmp_path: Path) -> None:
    empty = tmp_path / "handlers"
    empty.mkdir()
    port, listen = http_args()
    proc = Proc(
        ["serve", *listen, "--store", store_url(tmp_path), "--handlers", str(empty)],
        tmp_path / "serve.log",
    ).start(env={"CONVEYOR_RELOAD_INTERVAL_SECONDS": "0.1", "CONVEYOR_JWT_SECRET": SECRET})
    try:
        proc.wait_for_log("conveyor is ready")
        time.sleep(1.5)  # fifteen reload polls
        assert http_call("GET", f"http://127.0.0.1:{port}/healthz", timeout=5)[0] == 200
        empty.rmdir()  # gone while running: warned once as well, not once per poll
        time.sleep(1.5)
        assert proc.alive(), proc.text()
        assert proc.stop() == 0, proc.text()
    finally:
        proc.kill()
        proc.popen.wait()
    text = proc.text()
    assert text.count("no queue definitions") == 1, text
    assert text.count("is missing; keeping every queue") == 1, text
