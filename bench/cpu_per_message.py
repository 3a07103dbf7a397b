"""CPU time per message: a steadier A/B measure than rates on a shared or noisy machine.

``python -m bench.cpu_per_message [--messages N] [--rate R] [--broker URL] [--rounds K]``
starts ``conveyor serve`` (embedded, or ``--broker`` for RabbitMQ delivery) on a fresh SQLite
file, pushes N messages at a steady R per second from 16 keep-alive connections (well below
saturation, so batching and queueing do not change with the machine's speed), waits until
each is final, and reports the server process's CPU seconds (user + system, from
``/proc/<pid>/stat``) spent from the first push to the last final write, per message. Run it
in two checkouts (for example before and after a change) and alternate the rounds: CPU per
message moves far less with the machine's load than a saturated rate does.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import jwt

from bench.common import cpu_seconds, delete_queues, free_port

HERE = Path(__file__).resolve().parent
SECRET = "cpu-per-message-" + "s" * 40


async def wait_healthy(url: str, session: aiohttp.ClientSession) -> None:
    for _ in range(300):
        try:
            async with session.get(f"{url}/healthz") as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise SystemExit("conveyor serve did not become healthy")


async def drive(url: str, pid: int, messages: int, rate: float) -> float:
    """Push ``messages`` at ``rate``/s, wait until all are final; CPU µs per message."""
    token = jwt.encode({"sub": "bench", "exp": int(time.time()) + 3600}, SECRET, "HS256")
    headers = {"Authorization": f"Bearer {token}"}
    connector = aiohttp.TCPConnector(limit=16)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        await wait_healthy(url, session)
        ids: list[str] = []
        start_cpu = cpu_seconds(pid)
        began = time.monotonic()

        async def push(n: int) -> None:
            body = {"hello": "there", "world": "yes", "n": n}
            async with session.post(f"{url}/bench", json=body) as resp:
                assert resp.status == 201, await resp.text()
                ids.append((await resp.json())["id"])

        tasks = []
        for n in range(messages):
            await asyncio.sleep(max(0.0, began + n / rate - time.monotonic()))
            tasks.append(asyncio.ensure_future(push(n)))
        await asyncio.gather(*tasks)
        for message_id in ids:
            async with session.get(f"{url}/bench/{message_id}?wait=30") as resp:
                status = (await resp.json())["status"]
                assert status == "COMPLETE", status
        return (cpu_seconds(pid) - start_cpu) / messages * 1e6


def one_round(messages: int, rate: float, broker: str | None) -> float:
    tmp = Path(tempfile.mkdtemp(prefix="conveyor-cpu-"))
    port = free_port()
    args = [sys.executable, "-m", "conveyor", "serve", "--port", str(port)]
    args += ["--store", f"sqlite:///{tmp / 'db.sqlite'}", "--handlers", str(HERE / "queues")]
    args += ["--jwt-secret", SECRET, "--log-level", "warning", "--no-access-log"]
    args += ["--reload-interval-seconds", "0"]
    prefix = f"bench.cpu.{os.urandom(4).hex()}."
    if broker:
        args += ["--broker", broker, "--queue-prefix", prefix]
    with open(tmp / "serve.log", "wb") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    try:
        return asyncio.run(drive(f"http://127.0.0.1:{port}", proc.pid, messages, rate))
    finally:
        proc.terminate()
        proc.wait(30)
        if broker:
            asyncio.run(delete_queues(broker, prefix, ["bench"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=300.0)
    parser.add_argument("--broker", default=None, help="RabbitMQ URL: serve --broker")
    parser.add_argument("--rounds", type=int, default=3)
    opts = parser.parse_args()
    values = [one_round(opts.messages, opts.rate, opts.broker) for _ in range(opts.rounds)]
    shown = ", ".join(f"{v:.0f}" for v in values)
    print(f"cpu per message: median {statistics.median(values):.0f} us ({shown})")


if __name__ == "__main__":
    main()
