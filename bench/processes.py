"""Pushes per second into ``conveyor gateway --processes 1`` against ``--processes 2``.

``python -m bench.processes [--rounds 3] [--duration 10] [--connections 64]`` starts, for each
run, a fresh gateway with ``--processes N`` and one ``conveyor consumer`` (RabbitMQ delivery,
one SQLite file, RS256 tokens, ``--event-loop auto``, no access log), warms it up with 1 s of
``wrk``, then drives ``POST /bench`` with the push benchmark's body for ``--duration``
seconds (``bench.wrk``: 2 threads, ``--connections`` keep-alive connections; the kernel
spreads the connections among the gateway children). The two sizes alternate within each
round, the first one switching from round to round, so drift on a shared machine falls on
both. Prints each run's rate, each round's ratio (2 over 1) and the medians.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from bench import wrk
from bench.common import (
    BODY,
    BROKER,
    QUEUES,
    Keys,
    Proc,
    cpu_seconds,
    delete_queues,
    free_port,
    rabbitmq_pid,
    wait_consumers,
    wait_ready,
)

STARTED = re.compile(r"child \d+ started \(pid (\d+)\)")


async def _wait_listening(gateway: Proc, children: int, within: float = 60.0) -> None:
    """Until the gateway's log shows ``children`` listening sockets."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        gateway.check_alive()
        if gateway.log.read_text(errors="replace").count("gateway listening") >= children:
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{children} gateway children not listening within {within} s")


def _children(gateway: Proc) -> list[int]:
    """The gateway children's pids, from the parent's log."""
    return [int(pid) for pid in STARTED.findall(gateway.log.read_text(errors="replace"))]


async def one_run(
    processes: int, keys: Keys, duration: float, connections: int
) -> tuple[float, dict[str, float]]:
    """Responses per second of one run against ``gateway --processes processes``, and the
    cores used meanwhile by the gateway (parent and children), the consumer and RabbitMQ."""
    tmp = Path(tempfile.mkdtemp(prefix=f"conveyor-bench-processes-{processes}-"))
    prefix = f"bench.{uuid.uuid4().hex[:10]}."
    port = free_port()
    common = ["--store", f"sqlite:///{tmp / 'bench.db'}", "--handlers", str(QUEUES)]
    common += ["--broker", BROKER, "--queue-prefix", prefix, "--log-level", "info"]
    procs: list[Proc] = []
    try:
        http = ["--port", str(port), "--jwt-public-key", str(keys.pem), "--no-access-log"]
        gateway = Proc(
            ["gateway", *common, "--processes", str(processes), *http], tmp / "gateway.log"
        )
        procs.append(gateway)
        await wait_ready(f"http://127.0.0.1:{port}/readyz", gateway)
        await _wait_listening(gateway, processes)
        consumer = Proc(["consumer", *common, "--concurrency", "64"], tmp / "consumer.log")
        procs.append(consumer)
        await wait_consumers(BROKER, f"{prefix}bench", 1)
        base = f"http://127.0.0.1:{port}"
        await asyncio.to_thread(
            wrk.run_wrk, base, "/bench", keys.tokens, BODY, duration=1, connections=connections
        )
        watched = {
            "gateway": [gateway.pid, *_children(gateway)],
            "consumer": [consumer.pid],
            "rabbitmq": [pid for pid in [rabbitmq_pid()] if pid],
        }
        before = {name: sum(map(cpu_seconds, pids)) for name, pids in watched.items()}
        result = await asyncio.to_thread(
            wrk.run_wrk,
            base,
            "/bench",
            keys.tokens,
            BODY,
            duration=duration,
            connections=connections,
        )
        if result["bad"] or result["socket_errors"]:
            raise RuntimeError(f"--processes {processes}: {result}")
        seconds = result["duration_us"] / 1e6
        cpu = {
            name: (sum(map(cpu_seconds, pids)) - before[name]) / seconds
            for name, pids in watched.items()
        }
        return float(result["rate"]), cpu
    finally:
        for proc in procs:
            proc.stop()
        await delete_queues(BROKER, prefix, ["bench"])
        shutil.rmtree(tmp, ignore_errors=True)


async def main_async(args: argparse.Namespace) -> None:
    keys_dir = Path(tempfile.mkdtemp(prefix="conveyor-bench-keys-"))
    keys = Keys(keys_dir)
    rates: dict[int, list[float]] = {1: [], 2: []}
    ratios = []
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{os.cpu_count()} cores, load average {load}, {wrk.version()}")
    try:
        for n in range(args.rounds):
            order = (1, 2) if n % 2 == 0 else (2, 1)
            got = {}
            for processes in order:
                rate, cpu = await one_run(processes, keys, args.duration, args.connections)
                got[processes] = rate
                rates[processes].append(rate)
                used = ", ".join(f"{name} {cores:.2f}" for name, cores in cpu.items())
                print(f"round {n + 1}: --processes {processes}: {rate:6.0f} pushes/s; cores {used}")
            ratios.append(got[2] / got[1])
            print(f"round {n + 1}: ratio 2/1 = {ratios[-1]:.2f}")
    finally:
        shutil.rmtree(keys_dir, ignore_errors=True)
    one, two = statistics.median(rates[1]), statistics.median(rates[2])
    print(f"median --processes 1: {one:8.0f} pushes/s  (runs: {_fmt(rates[1])})")
    print(f"median --processes 2: {two:8.0f} pushes/s  (runs: {_fmt(rates[2])})")
    each = ", ".join(f"{r:.2f}" for r in ratios)
    print(f"ratio 2/1 per round: {each}; of the medians: {two / one:.2f}")
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average afterwards {load}")


def _fmt(values: list[float]) -> str:
    return ", ".join(f"{v:.0f}" for v in values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load per run")
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    if not wrk.available():
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
