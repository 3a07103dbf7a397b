"""RabbitMQ nodes as the tests see them: the shared broker, and a private node of the session's
own that a test may stop.

The shared broker (``TEST_RABBITMQ_URL``, 127.0.0.1:5672) belongs to everyone on the machine:
tests only read from it (passive declares, ``rabbitmqctl list_*``) and delete the queues they
declared. A broker outage is staged on a *private* node, started once per test session on
free ports with its own data directory, log directory, config, and an empty plugin list (the
shared node's management plugin holds :15672, which a second node cannot bind), and halted at
session end. ``rabbitmqctl`` addresses it by node name (``-n``).

Running as root, Debian's ``rabbitmq-server``/``rabbitmqctl`` switch to the ``rabbitmq`` user
(with that user's ``~/.erlang.cookie``, which is how the CLI authenticates to the node): the
private directories are handed to that user.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any

import aio_pika

from tests.support.services import (
    RABBITMQ_URL,
    check_marked,
    checkout_tag,
    require_rabbitmq,
    unavailable,
)
from tests.support.sockets import free_port, port_open
from tests.support.waiting import wait_until_sync

STARTUP_SECONDS = 90.0  # a cold boot takes ~10 s here; far more when two suites share 2 cores
SERVER_USER = "rabbitmq"  # whom Debian's scripts run the server and CLI as, when started as root


def _find(program: str) -> str | None:
    """``program`` on PATH, or in /usr/sbin (where Debian puts RabbitMQ's, off a user's PATH)."""
    return shutil.which(program) or shutil.which(program, path="/usr/sbin")


def rabbitmqctl_path() -> str:
    """``rabbitmqctl``; skip locally / fail in CI without it."""
    found = _find("rabbitmqctl")
    if found is None:
        unavailable("rabbitmqctl is not installed (the RabbitMQ CLI)")
    return found


@dataclasses.dataclass(frozen=True)
class QueueCounts:
    """What a passive ``queue.declare`` reports: ready messages and consumers."""

    messages: int
    consumers: int


@dataclasses.dataclass(frozen=True)
class RabbitNode:
    """A RabbitMQ node: its AMQP URL and the name ``rabbitmqctl`` reaches it by.

    ``node=None`` is ``rabbitmqctl``'s default node: the shared broker, which is assumed to be
    the one behind ``url`` (127.0.0.1:5672 on a developer's machine and in CI).
    """

    url: str
    node: str | None = None
    env: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def ctl(self, *args: str, timeout: float = 120) -> str:
        """Run ``rabbitmqctl [-n NODE] ARGS``; its stdout (fails on a non-zero exit)."""
        command = [rabbitmqctl_path(), *(["-n", self.node] if self.node else []), *args]
        done = subprocess.run(
            command,
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}"
        return done.stdout

    async def actl(self, *args: str) -> str:
        """:meth:`ctl` from async code (in a thread)."""
        return await asyncio.to_thread(self.ctl, *args)

    async def listed(self, what: str, *fields: str) -> list[dict[str, Any]]:
        """``rabbitmqctl list_<what> FIELDS`` as JSON rows (read-only inspection)."""
        out = await self.actl(f"list_{what}", "-q", "--formatter", "json", *fields)
        rows: list[dict[str, Any]] = json.loads(out or "[]")
        return rows

    async def queue_info(self, name: str, *fields: str) -> dict[str, Any] | None:
        """One queue's ``rabbitmqctl list_queues`` row (``name`` plus ``fields``), or None."""
        for row in await self.listed("queues", "name", *fields):
            if row["name"] == name:
                return row
        return None

    async def counts(self, queue: str) -> QueueCounts:
        """Ready messages and consumers of ``queue`` from a passive declare (no plugin)."""
        connection = await aio_pika.connect(self.url, timeout=10)
        async with connection:
            channel = await connection.channel()
            declared = await channel.declare_queue(queue, passive=True)
            result = declared.declaration_result
            assert result.message_count is not None and result.consumer_count is not None
            return QueueCounts(result.message_count, result.consumer_count)


def shared_rabbitmq() -> RabbitNode:
    """The shared broker (skip locally / fail in CI if nothing listens there)."""
    return RabbitNode(require_rabbitmq())


@dataclasses.dataclass(frozen=True)
class PrivateRabbit(RabbitNode):
    """A RabbitMQ node this test session started and may stop (see the module docstring)."""

    home: Path = Path()  # its data, logs and config (removed when it is halted)

    async def stop_app(self) -> None:
        """Stop the RabbitMQ application (the Erlang node stays up): clients lose it."""
        await self.actl("stop_app")

    async def start_app(self) -> None:
        """Start the application again; returns once it accepts connections."""
        await self.actl("start_app")

    @contextlib.asynccontextmanager
    async def outage(self) -> AsyncIterator[None]:
        """The broker is down inside the block (``stop_app``) and back after it."""
        await self.stop_app()
        try:
            yield
        finally:
            await self.start_app()

    def log(self) -> str:
        """The server's console output and its node log (for failure messages)."""
        parts = [self.home / "server.log", *sorted((self.home / "log").glob("*.log"))]
        return "\n".join(p.read_text(errors="replace")[-4000:] for p in parts if p.is_file())


def _server_env(home: Path, node: str, amqp_port: int) -> dict[str, str]:
    """Everything the node must not share with the machine's own broker."""
    plugins, config, env_file = home / "enabled_plugins", home / "rabbitmq.conf", home / "env"
    plugins.write_text("[].\n")  # no management plugin: its :15672 is the shared node's
    config.write_text("")  # not /etc/rabbitmq/rabbitmq.conf, whose listener is on :5672
    env_file.write_text("")  # not /etc/rabbitmq/rabbitmq-env.conf (NODENAME=rabbit@localhost)
    return {
        "RABBITMQ_NODENAME": node,
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(amqp_port),
        "RABBITMQ_DIST_PORT": str(free_port()),
        "RABBITMQ_MNESIA_BASE": str(home / "mnesia"),
        "RABBITMQ_LOG_BASE": str(home / "log"),
        "RABBITMQ_PID_FILE": str(home / "node.pid"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(plugins),
        "RABBITMQ_CONFIG_FILE": str(config),
        "RABBITMQ_CONF_ENV_FILE": str(env_file),
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        "ERL_EPMD_ADDRESS": "127.0.0.1",  # if no epmd runs yet, the one it starts: loopback
    }


def _hand_to_server_user(home: Path) -> None:
    """Let the server write its directories when the scripts run it as ``rabbitmq``."""
    if os.geteuid() != 0:
        return
    try:
        user = pwd.getpwnam(SERVER_USER)
    except KeyError:
        return
    for path in [home, *home.rglob("*")]:
        os.chown(path, user.pw_uid, user.pw_gid)


def start_private_rabbit() -> Iterator[PrivateRabbit]:
    """Start a private node, yield it once it accepts AMQP, halt it and remove its files.

    For a session fixture. Skips locally / fails in CI when RabbitMQ is not installed or the
    node does not come up.
    """
    check_marked("a private RabbitMQ node")
    server = _find("rabbitmq-server")
    if server is None:
        unavailable("rabbitmq-server is not installed: no private node for the outage tests")
    rabbitmqctl_path()
    home = Path(tempfile.mkdtemp(prefix="conveyor-rabbit-"))
    for sub in ("mnesia", "log"):
        (home / sub).mkdir()
    amqp_port = free_port()
    node = f"conveyor-test-{uuid.uuid4().hex[:8]}@localhost"
    env = _server_env(home, node, amqp_port)
    _hand_to_server_user(home)
    with (home / "server.log").open("wb") as out:
        process = subprocess.Popen(
            [server],
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C reaches pytest, whose teardown halts the node
        )
    rabbit = PrivateRabbit(f"amqp://guest:guest@127.0.0.1:{amqp_port}/", node, env, home=home)
    try:
        _await_startup(rabbit, process, amqp_port)
        yield rabbit
    finally:
        _halt(rabbit, process)
        shutil.rmtree(home, ignore_errors=True)


def _await_startup(rabbit: PrivateRabbit, process: subprocess.Popen[bytes], port: int) -> None:
    def listening() -> bool:
        assert process.poll() is None, f"rabbitmq-server exited:\n{rabbit.log()}"
        return port_open("127.0.0.1", port, 0.2)

    try:
        wait_until_sync(
            listening,
            f"the private RabbitMQ node {rabbit.node} to accept AMQP on :{port}",
            STARTUP_SECONDS,
            interval=0.2,
            detail=rabbit.log,
        )
        rabbit.ctl("await_startup", "--timeout", "60")
    except AssertionError as exc:
        unavailable(f"the private RabbitMQ node did not start: {exc}")


def _halt(rabbit: PrivateRabbit, process: subprocess.Popen[bytes]) -> None:
    """``rabbitmqctl stop`` (halts the Erlang node); kill it if that did not end it."""
    if process.poll() is None:
        with contextlib.suppress(AssertionError, subprocess.TimeoutExpired):
            rabbit.ctl("stop", timeout=60)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        # The script runs the VM as a child (through su when root): kill the VM by its pid.
        with contextlib.suppress(OSError, ValueError):
            os.kill(int((rabbit.home / "node.pid").read_text().strip()), signal.SIGKILL)
        process.kill()
        process.wait()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def leftovers(names: list[str]) -> list[str]:
    """Of ``names``, those a run of *this checkout* made whose pytest process is gone
    (see :func:`tests.support.services.run_prefix`); never another checkout's, never a live
    run's."""
    pattern = re.compile(rf"^p?test\.{re.escape(checkout_tag())}\.(\d+)\.")
    return [n for n in names if (m := pattern.match(n)) and not _alive(int(m.group(1)))]


async def _delete_leftovers(rabbitmq: RabbitNode) -> int:
    queues = leftovers([row["name"] for row in await rabbitmq.listed("queues", "name")])
    exchanges = leftovers([row["name"] for row in await rabbitmq.listed("exchanges", "name")])
    connection = await aio_pika.connect(rabbitmq.url, timeout=10)
    async with connection:
        channel = await connection.channel()
        for queue in queues:
            await channel.queue_delete(queue)
        for exchange in exchanges:
            await channel.exchange_delete(exchange)
    return len(queues)


def delete_leftover_test_queues() -> int:
    """Delete, from the shared broker, the queues (and event exchanges) that earlier, killed
    test runs of this checkout left behind; the number of queues deleted.

    Every test deletes what it declared, also when it fails; only a run killed outright leaves
    queues, and each quorum queue holds file handles in RabbitMQ (hundreds of them make new
    connections hang). Best effort: without ``rabbitmqctl`` or a broker it does nothing.
    """
    if _find("rabbitmqctl") is None or not port_open("127.0.0.1", 5672):
        return 0
    try:
        return asyncio.run(_delete_leftovers(RabbitNode(RABBITMQ_URL)))
    except (AssertionError, OSError, subprocess.TimeoutExpired) as exc:  # e.g. no permission
        print(f"leftover test queues not removed: {exc}", file=sys.stderr)
        return 0
