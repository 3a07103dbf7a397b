"""What every benchmark shares: keys and tokens, Conveyor processes, the store, the broker.

Contracts:
- :class:`Keys` signs RS256 tokens with a fresh RSA key whose public half is written to a PEM
  file that the processes verify with (``--jwt-public-key``): the real token path.
- :class:`Proc` starts a ``conveyor`` subcommand (or any module) with its output in a log file,
  and reads its RSS and CPU time from ``/proc``; :meth:`Proc.stop` terminates and reaps it.
  ``PRODUCT`` (when set) is the source tree the ``conveyor`` processes run from: their
  ``PYTHONPATH`` and working directory, so one bench can measure another checkout.
- :func:`cpu_split` reads a process's CPU seconds from ``/proc``: in all, on its main
  (event-loop) thread, and on the others.
- :func:`store_counts` and :func:`last_final` read the SQLite file read-only from outside
  (WAL allows a reader beside the writers), so measuring costs the server nothing.
- Queues the suite creates on the shared RabbitMQ carry a unique prefix and are deleted by
  :func:`delete_queues`.
"""

from __future__ import annotations

import asyncio
import os
import resource
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

HERE = Path(__file__).resolve().parent
QUEUES = HERE / "queues"
BROKER = os.environ.get("BENCH_BROKER", "amqp://guest:guest@127.0.0.1:5672/")
CLK_TCK = os.sysconf("SC_CLK_TCK")
#: The checkout ``conveyor`` processes run from (``--product DIR``); None: this environment's.
PRODUCT: list[Path | None] = [None]

#: A message like the seed's (handlers/myQueue.queue.json) plus a counter the handler echoes.
BODY = {"hello": "there", "world": "yes", "n": 1}


class Keys:
    """An RSA key pair: the public half in ``dir/bench.pem``, tokens signed with the private."""

    def __init__(self, directory: Path, count: int = 5) -> None:
        self._private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.pem = directory / "bench.pem"
        self.pem.write_bytes(
            self._private.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        self.tokens = [self.token(f"bench-{n}") for n in range(count)]

    def token(self, sub: str) -> str:
        """An RS256 token for ``sub`` valid for two hours."""
        claims = {"sub": sub, "roles": ["bench"], "exp": int(time.time()) + 7200}
        return jwt.encode(claims, self._private, algorithm="RS256")

    def public_key(self) -> Any:
        """The public key object (for the auth-schema ceiling's PyJWT calls)."""
        return self._private.public_key()


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _raise_nofile() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Proc:
    """A child process started with ``python -m MODULE ARGS`` (or ``PROGRAM ARGS``), output in
    ``log``."""

    def __init__(
        self,
        args: Sequence[str],
        log: Path,
        module: str = "conveyor",
        program: Sequence[str] | None = None,
    ) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
        product = PRODUCT[0] if module == "conveyor" and program is None else None
        if product is not None:  # `-m` puts the working directory first on sys.path
            env["PYTHONPATH"] = str(product)
        self.log = log
        self._terminated = False
        self._out = log.open("wb")
        self.popen = subprocess.Popen(
            [*(program or (sys.executable, "-m", module)), *args],
            stdout=self._out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=product,
            preexec_fn=_raise_nofile,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def rss_mb(self) -> float:
        """Resident set size in MB (VmRSS)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def cpu_seconds(self) -> float:
        """User + system CPU seconds used so far."""
        return cpu_seconds(self.pid)

    def terminate(self) -> None:
        """SIGTERM, once (a second one may mean "now" to the process)."""
        if not self._terminated and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        self._terminated = True

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 20 s; always reaped."""
        self.terminate()
        if self.popen.poll() is None:
            try:
                self.popen.wait(20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._out.close()

    def check_alive(self) -> None:
        if self.popen.poll() is not None:
            tail = self.log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{self.log.name} exited {self.popen.returncode}:\n{tail}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` (from /proc/PID/stat)."""
    return _ticks(Path(f"/proc/{pid}/stat").read_text())


def _ticks(stat: str) -> float:
    """utime + stime in seconds from the text of a ``/proc/.../stat`` file."""
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def cpu_split(pid: int) -> dict[str, float]:
    """CPU seconds of ``pid`` so far: ``total`` (``/proc/PID/stat``: every thread, ended
    ones included), ``main`` (its event loop's thread, ``/proc/PID/task/PID/stat``) and
    ``threads`` (``total - main``: the store's thread, executors, threads that ended).
    Threads are not told apart by name: Python 3.11 leaves every one named ``python``."""
    total = _ticks(Path(f"/proc/{pid}/stat").read_text())
    main = _ticks(Path(f"/proc/{pid}/task/{pid}/stat").read_text())
    return {"total": total, "main": main, "threads": total - main}


def cpu_used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """``after - before`` of two :func:`cpu_split` readings."""
    return {key: after[key] - before[key] for key in before}


def rabbitmq_pid() -> int | None:
    """The local RabbitMQ node's pid (beam.smp), to read its CPU time; None if not found."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "beam.smp":
                    return int(entry.name)
            except OSError:
                continue
    return None


async def wait_ready(url: str, proc: Proc, within: float = 60.0) -> None:
    """Until ``GET url`` answers 200 (the process must stay alive meanwhile)."""
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            proc.check_alive()
            try:
                async with session.get(url) as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} not ready within {within} s")


def _connect_ro(db: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    conn.execute("PRAGMA busy_timeout=10000")
    return conn


def store_counts(db: Path) -> dict[str, int]:
    """Records by status in the SQLite file (empty if it does not exist yet)."""
    if not db.exists():
        return {}
    conn = _connect_ro(db)
    try:
        rows = conn.execute("SELECT status, count(*) FROM messages GROUP BY status").fetchall()
    finally:
        conn.close()
    return {str(status): int(n) for status, n in rows}


def last_final(db: Path) -> tuple[float, float, int]:
    """(earliest, latest) ``updated_at`` of final records, and how many there are."""
    conn = _connect_ro(db)
    try:
        row = conn.execute(
            "SELECT min(updated_at), max(updated_at), count(*) FROM messages"
            " WHERE status IN ('COMPLETE', 'ERROR')"
        ).fetchone()
    finally:
        conn.close()
    return float(row[0]), float(row[1]), int(row[2])


async def wait_drained(db: Path, procs: Sequence[Proc], within: float = 900.0) -> dict[str, int]:
    """Until no record is PENDING or INPROGRESS (and at least one exists); the final counts."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        for proc in procs:
            proc.check_alive()
        counts = store_counts(db)
        if counts and not counts.get("PENDING") and not counts.get("INPROGRESS"):
            return counts
        await asyncio.sleep(0.2)
    raise RuntimeError(f"not drained within {within} s: {store_counts(db)}")


async def rabbitmq_version(url: str = BROKER) -> str:
    """The broker's version as it announces itself, or ``unavailable``."""
    import aio_pika

    try:
        connection = await aio_pika.connect(url, timeout=5)
    except Exception as exc:  # the version line must not stop the suite
        return f"unavailable ({type(exc).__name__})"
    async with connection:
        if connection.transport is None:
            return "unavailable (no transport)"
        props = connection.transport.connection.server_properties
        version = props.get("version", "?")
        return version.decode() if isinstance(version, bytes) else str(version)


async def delete_queues(url: str, prefix: str, names: Sequence[str]) -> None:
    """Delete ``prefix + name``, its ``.dead`` and delay-tier queues, the events and control
    exchanges, and the prefix's marker queue (its binding to a store)."""
    import aio_pika

    from shared.adapters.rabbitmq.delays import TIERS_MS, tier_queue
    from shared.adapters.rabbitmq.identity import marker_queue

    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        for name in names:
            for queue in (f"{prefix}{name}", f"{prefix}{name}.dead"):
                await channel.queue_delete(queue)
            for tier in TIERS_MS:  # delay queues (deleting a missing one is a no-op)
                await channel.queue_delete(tier_queue(f"{prefix}{name}", tier))
        await channel.exchange_delete(f"{prefix}events")
        await channel.exchange_delete(f"{prefix}control")  # cancel signals
        await channel.queue_delete(marker_queue(prefix))  # the prefix's binding to a store


async def wait_consumers(url: str, queue: str, count: int, within: float = 60.0) -> None:
    """Until the broker queue ``queue`` has ``count`` consumers."""
    import aio_pika

    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            declared = await channel.declare_queue(queue, passive=True)
            if (declared.declaration_result.consumer_count or 0) >= count:
                return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{queue}: fewer than {count} consumers after {within} s")
