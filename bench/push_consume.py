"""End-to-end benchmark: HTTP push → record → deliver → claim → handler → result → ack.

Starts a real ``conveyor serve`` process (embedded SQLite by default; ``--broker`` adds
RabbitMQ delivery) on a fresh database, pushes ``--messages`` messages from ``--clients``
concurrent HTTP clients with real tokens, then waits until every message is COMPLETE.
Prints push throughput (201/s), end-to-end throughput, and push latency percentiles.

    .venv/bin/python bench/push_consume.py --messages 5000 --clients 32
    .venv/bin/python bench/push_consume.py --broker amqp://guest:guest@127.0.0.1:5672/
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
import jwt

HERE = Path(__file__).parent
SECRET = "bench-secret-" + "y" * 40


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def delete_queues(url: str, prefix: str) -> None:
    """Remove the benchmark's quorum queues (each holds broker resources)."""
    import aio_pika

    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        for name in (f"{prefix}bench", f"{prefix}bench.dead"):
            await channel.queue_delete(name)


async def wait_ready(session: aiohttp.ClientSession, url: str) -> None:
    for _ in range(200):
        try:
            async with session.get(f"{url}/readyz") as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.05)
    raise SystemExit("conveyor did not become ready")


async def run(args: argparse.Namespace) -> None:
    port = free_port()
    tmp = Path(tempfile.mkdtemp(prefix="conveyor-bench-"))
    cmd = [
        sys.executable,
        "-m",
        "conveyor",
        "serve",
        "--port",
        str(port),
        "--store",
        f"sqlite:///{tmp / 'bench.db'}",
        "--handlers",
        str(HERE / "queues"),
        "--jwt-secret",
        SECRET,
        "--log-level",
        "warning",
        "--concurrency",
        str(args.concurrency),
    ]
    prefix = f"bench.{uuid.uuid4().hex[:8]}."
    if args.broker:
        cmd += ["--broker", args.broker, "--queue-prefix", prefix]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    proc = subprocess.Popen(cmd, env=env)  # noqa: ASYNC220 (started once, before timing)
    url = f"http://127.0.0.1:{port}"
    token = jwt.encode({"sub": "bench", "exp": int(time.time()) + 3600}, SECRET, "HS256")
    headers = {"Authorization": f"Bearer {token}"}
    latencies: list[float] = []
    ids: list[str] = []
    try:
        connector = aiohttp.TCPConnector(limit=args.clients)
        async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
            await wait_ready(session, url)
            counter = iter(range(args.messages))

            async def client() -> None:
                for n in counter:
                    started = time.perf_counter()
                    async with session.post(f"{url}/bench", json={"n": n}) as resp:
                        body = await resp.json()
                        assert resp.status == 201, body
                    latencies.append(time.perf_counter() - started)
                    ids.append(body["id"])

            t0 = time.perf_counter()
            await asyncio.gather(*(client() for _ in range(args.clients)))
            pushed = time.perf_counter() - t0
            for message_id in ids:
                while True:
                    async with session.get(f"{url}/bench/{message_id}") as resp:
                        if (await resp.json())["status"] == "COMPLETE":
                            break
                    await asyncio.sleep(0.01)
            done = time.perf_counter() - t0
    finally:
        proc.terminate()
        proc.wait(30)
        if args.broker:
            await delete_queues(args.broker, prefix)
    latencies.sort()
    q = statistics.quantiles(latencies, n=100)
    mode = "rabbitmq delivery" if args.broker else "in-process delivery"
    print(
        f"conveyor serve, sqlite store, {mode}; {args.messages} messages, "
        f"{args.clients} clients, concurrency {args.concurrency}"
    )
    print(
        f"  push:        {args.messages / pushed:8.0f} msg/s  "
        f"(p50 {q[49] * 1000:.1f} ms, p99 {q[98] * 1000:.1f} ms)"
    )
    print(f"  end to end:  {args.messages / done:8.0f} msg/s  (all COMPLETE after {done:.2f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--broker", default=None, help="amqp:// URL for RabbitMQ delivery")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
