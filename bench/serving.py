"""What the section-6 scripts share: a real ``conveyor serve`` child process on a free port
with a token, waiting for it, reading its /proc figures, and latency percentiles.

Not a test helper: the scripts are run by hand (``bench/README.md``) and only report.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import jwt

HERE = Path(__file__).parent
SECRET = "bench-secret-" + "y" * 40


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` (0..1) quantile of ``values`` by nearest rank (0 for none)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


@dataclass
class Serve:
    """``conveyor serve`` on a fresh SQLite file (or ``store``), logging to ``log``.

    ``wrapper``: run this script instead of ``-m conveyor`` (it must run conveyor's CLI with
    the arguments it is given; ``bench/probe_serve.py`` does, sampling asyncio tasks).
    """

    workdir: Path
    store: str | None = None
    extra: list[str] = field(default_factory=list)
    wrapper: Path | None = None
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.workdir / "serve.log"

    def token(self) -> str:
        claims = {"sub": "bench", "exp": int(time.time()) + 86400, "roles": ["system_admin"]}
        return jwt.encode(claims, SECRET, "HS256")

    def start(self) -> None:
        store = self.store or f"sqlite:///{self.workdir / 'bench.db'}"
        start = [str(self.wrapper)] if self.wrapper else ["-m", "conveyor"]
        cmd = [sys.executable, *start, "serve", "--port", str(self.port), "--store", store]
        cmd += ["--handlers", str(HERE / "queues"), "--jwt-secret", SECRET, *self.extra]
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)

    async def ready(self, within: float = 60.0) -> None:
        deadline = time.monotonic() + within
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                assert self.proc is not None and self.proc.poll() is None, self.log.read_text()
                try:
                    async with session.get(f"{self.url}/readyz") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise SystemExit(f"conveyor serve did not become ready:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> int:
        """SIGTERM, wait; the exit status."""
        assert self.proc is not None
        self.proc.terminate()
        try:
            return self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def rss_mib(self) -> float:
        """Resident memory of the serve process (MiB), from /proc."""
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def open_fds(self) -> int:
        assert self.proc is not None
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))


async def wait_all_complete(
    url: str, token: str, queue: str, ids: list[str], within: float = 600.0
) -> dict[str, int]:
    """GET every id until each is final (or ``within`` s); the count of each final status."""
    headers = {"Authorization": f"Bearer {token}"}
    statuses: dict[str, str] = {}
    pending = list(ids)
    deadline = time.monotonic() + within
    connector = aiohttp.TCPConnector(limit=32)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def read(message_id: str) -> None:
            async with session.get(f"{url}/{queue}/{message_id}") as resp:
                statuses[message_id] = (await resp.json())["status"] if resp.status == 200 else "?"

        while pending and time.monotonic() < deadline:
            await asyncio.gather(*(read(i) for i in pending))
            pending = [i for i in pending if statuses[i] not in ("COMPLETE", "ERROR")]
            if pending:
                await asyncio.sleep(1.0)
    counts: dict[str, int] = {}
    for status in statuses.values():
        counts[status] = counts.get(status, 0) + 1
    return counts
