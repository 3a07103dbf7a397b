"""Throughput benchmarks: http-ceiling, auth-schema-ceiling, raw, push, e2e, e2e-batch.

Every HTTP load comes from ``wrk`` (64 keep-alive connections, 2 threads) with the suite's
RS256 tokens in turn and the seed-like body. ``e2e`` times first push to last final write:
wrk pushes the messages while the consumers already run; the end is the largest
``updated_at`` of the final records, read from the SQLite file once nothing is pending.
Topologies are interleaved within each run, so drift on the shared machine hits them alike.
"""

from __future__ import annotations

import asyncio
from typing import Any

from bench import wrk
from bench.common import BODY, BROKER, QUEUES, Proc, free_port, last_final, wait_drained, wait_ready
from bench.raw_rabbitmq import measure
from bench.suite import Bench
from bench.topology import Topology

WRK = "wrk (64 connections, 2 threads)"
BATCH = 100
#: Batches go over fewer connections: each carries 100 messages, and wrk's quota stop lets
#: every other connection finish the request it has in flight (up to 8 x 100 extra here).
BATCH_CONNECTIONS = 8
WRK_BATCH = f"wrk ({BATCH_CONNECTIONS} connections x {BATCH} messages, 2 threads)"
#: For filling a store before a measurement: one connection per thread, overshoot <= 2.
FILL = {"connections": 2, "threads": 2}


def _record_wrk(bench: Bench, row: str, result: dict[str, Any]) -> None:
    if result["bad"] or result["socket_errors"]:
        raise RuntimeError(f"{row}: {result['bad']} unexpected statuses, {result}")
    bench.record(row, "rate", result["rate"], "req/s", WRK)
    bench.record(row, "p50", result["p50_us"] / 1000, "ms", WRK)
    bench.record(row, "p99", result["p99_us"] / 1000, "ms", WRK)


async def _ceiling(bench: Bench, row: str, checked: bool) -> None:
    port = free_port()
    args = ["--port", str(port)]
    if checked:
        args += ["--public-key", str(bench.keys.pem), "--schema", str(QUEUES / "bench.queue.json")]
    log = bench.keys.pem.with_name(f"{row}.log")
    proc = Proc(args, log, module="bench.ceiling")
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_ready(f"{base}/readyz", proc)
        await asyncio.to_thread(wrk.run_wrk, base, "/bench", bench.keys.tokens, BODY, duration=1)
        for _ in range(bench.sizes.runs):
            result = await asyncio.to_thread(
                wrk.run_wrk, base, "/bench", bench.keys.tokens, BODY, duration=bench.sizes.duration
            )
            _record_wrk(bench, row, result)
    finally:
        proc.stop()


async def http_ceiling(bench: Bench) -> None:
    """A minimal aiohttp app: read, parse, answer 201."""
    await _ceiling(bench, "http-ceiling", checked=False)


async def auth_schema_ceiling(bench: Bench) -> None:
    """The same plus PyJWT RS256 verification and jsonschema validation on every request."""
    await _ceiling(bench, "auth-schema-ceiling", checked=True)


async def raw(bench: Bench) -> None:
    """aio-pika alone: confirmed persistent publishes (256 in flight), consume at prefetch 100."""
    for _ in range(bench.sizes.runs):
        rates = await measure(BROKER, bench.sizes.raw_messages, inflight=256, prefetch=100)
        generator = "aio-pika in the suite's process"
        bench.record("raw", "publish", rates["publish"], "msg/s", generator)
        bench.record("raw", "consume", rates["consume"], "msg/s", generator)


async def push(bench: Bench) -> None:
    """201s per second into ``serve --broker`` (a fresh one per run, warmed up for 1 s)."""
    for _ in range(bench.sizes.runs):
        async with Topology("broker", bench.keys) as topo:
            await topo.wait_consumers("bench")
            await asyncio.to_thread(
                wrk.run_wrk, topo.base, "/bench", bench.keys.tokens, BODY, duration=1
            )
            result = await asyncio.to_thread(
                wrk.run_wrk,
                topo.base,
                "/bench",
                bench.keys.tokens,
                BODY,
                duration=bench.sizes.duration,
            )
            _record_wrk(bench, "push", result)


async def _e2e(bench: Bench, topology: str, batch: bool) -> None:
    messages = bench.sizes.e2e_messages
    async with Topology(topology, bench.keys) as topo:
        await topo.wait_consumers("bench")
        if batch:
            path, body, quota, expect = "/bench/batch", [BODY] * BATCH, messages // BATCH, 207
        else:
            path, body, quota, expect = "/bench", BODY, messages, 201
        connections = BATCH_CONNECTIONS if batch else 64
        result = await asyncio.to_thread(
            wrk.run_wrk, topo.base, path, bench.keys.tokens, body,
            quota=quota, expect=expect, connections=connections,
        )  # fmt: skip
        if result["bad"] or result["socket_errors"]:
            raise RuntimeError(f"e2e {topology}: {result}")
        counts = await wait_drained(topo.db, topo.procs)
        _first, last, final = last_final(topo.db)
        if counts.get("ERROR"):
            raise RuntimeError(f"e2e {topology}: {counts}")
        row = f"e2e-batch/{topology}" if batch else f"e2e/{topology}"
        generator = WRK_BATCH if batch else WRK
        bench.record(row, "rate", final / (last - result["started"]), "msg/s", generator)
        bench.record(row, "push", result["rate"] * (BATCH if batch else 1), "msg/s", generator)
        bench.record(row, "messages", final, "msg", generator)


async def e2e(bench: Bench) -> None:
    """First push to last COMPLETE, single pushes, in each topology."""
    for _ in range(bench.sizes.runs):
        for topology in bench.topologies:
            await _e2e(bench, topology, batch=False)


async def e2e_batch(bench: Bench) -> None:
    """The same with ``POST /bench/batch`` of 100 messages."""
    for _ in range(bench.sizes.runs):
        for topology in bench.topologies:
            await _e2e(bench, topology, batch=True)
