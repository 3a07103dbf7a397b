"""latency, scale and memory.

- ``latency``: a Python client (a light load, so its own cost does not matter) starts one
  message every 1/rate s: ``POST``, then ``GET ?wait=10`` until the record is final; the time
  from sending the POST to reading the final record is one sample.
- ``scale``: the gateway alone takes ``scale_messages`` pushes for the ``burn`` queue (a
  handler burning ~2 ms of CPU), then 1 or 2 consumers are started together; the drain time
  is first to last final write. CPU seconds of every process (and RabbitMQ's node) over the
  drain are recorded.
- ``memory``: ``serve`` (embedded) RSS after start and after ``memory_messages`` messages
  (batches of 100 through wrk); then ``waiters`` open ``GET ?wait=30`` on delayed messages,
  the RSS they add, and the push rate with them against the rate just before without them.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from pathlib import Path

import aiohttp

from bench import wrk
from bench.common import (
    BODY,
    HERE,
    cpu_seconds,
    last_final,
    rabbitmq_pid,
    store_counts,
    wait_drained,
)
from bench.runs_throughput import BATCH, BATCH_CONNECTIONS, FILL, WRK
from bench.suite import Bench
from bench.topology import Topology

FINAL = ("COMPLETE", "ERROR")


async def _one(session: aiohttp.ClientSession, base: str, token: str) -> float:
    headers = {"Authorization": f"Bearer {token}"}
    started = time.perf_counter()
    async with session.post(f"{base}/bench", json=BODY, headers=headers) as resp:
        record = await resp.json()
        if resp.status != 201:
            raise RuntimeError(f"push answered {resp.status}: {record}")
    while record["status"] not in FINAL:
        async with session.get(f"{base}/bench/{record['id']}?wait=10", headers=headers) as resp:
            record = await resp.json()
    return time.perf_counter() - started


async def _latency(bench: Bench, topology: str) -> None:
    sizes = bench.sizes
    async with Topology(topology, bench.keys) as topo:
        await topo.wait_consumers("bench")
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            await _one(session, topo.base, bench.keys.tokens[0])  # warm-up
            count = int(sizes.latency_seconds * sizes.latency_rate)
            tasks = []
            start = time.perf_counter()
            for n in range(count):
                await asyncio.sleep(max(0.0, start + n / sizes.latency_rate - time.perf_counter()))
                token = bench.keys.tokens[n % len(bench.keys.tokens)]
                tasks.append(asyncio.create_task(_one(session, topo.base, token)))
            samples = sorted(await asyncio.gather(*tasks))
    generator = f"Python aiohttp client, {sizes.latency_rate:g} msg/s"
    row = f"latency/{topology}"
    quantiles = statistics.quantiles(samples, n=100) if len(samples) > 1 else samples * 99
    bench.record(row, "p50", quantiles[49] * 1000, "ms", generator)
    bench.record(row, "p99", quantiles[98] * 1000, "ms", generator)
    bench.record(row, "max", samples[-1] * 1000, "ms", generator)


async def latency(bench: Bench) -> None:
    """Push → final as a client sees it, at a steady rate, in each topology."""
    for _ in range(bench.sizes.runs):
        for topology in bench.topologies:
            await _latency(bench, topology)


async def _scale(bench: Bench, consumers: int) -> None:
    messages = bench.sizes.scale_messages
    async with Topology(
        f"shared-{consumers}", bench.keys, HERE / "burn", consumers_later=True
    ) as topo:
        body = [BODY] * BATCH
        result = await asyncio.to_thread(
            wrk.run_wrk, topo.base, "/burn/batch", bench.keys.tokens, body,
            quota=max(1, messages // BATCH), expect=207, **FILL,
        )  # fmt: skip
        if result["bad"]:
            raise RuntimeError(f"scale push: {result}")
        topo.start_consumers()
        while not any(store_counts(topo.db).get(s) for s in FINAL):
            for proc in topo.procs:
                proc.check_alive()
            await asyncio.sleep(0.02)
        broker = rabbitmq_pid()
        pids = [p.pid for p in topo.procs] + ([broker] if broker else [])
        before = [cpu_seconds(pid) for pid in pids]
        await wait_drained(topo.db, topo.procs)
        after = [cpu_seconds(pid) for pid in pids]
        first, last, final = last_final(topo.db)
    row = f"scale/{consumers}"
    generator = "wrk batches, then consumers started"
    bench.record(row, "rate", final / (last - first), "msg/s", generator)
    bench.record(row, "drain", last - first, "s", generator)
    names = ["gateway"] + [f"consumer {n + 1}" for n in range(consumers)] + ["rabbitmq"]
    for name, b, a in zip(names, before, after, strict=False):
        bench.record(row, f"cpu {name}", a - b, "s", generator)


async def scale(bench: Bench) -> None:
    """Drain time of 2 ms CPU messages with 1 and with 2 consumer processes."""
    for _ in range(bench.sizes.runs):
        for consumers in (1, 2):
            await _scale(bench, consumers)


async def _open_waiters(base: str, ids: list[str], tokens: list[str]) -> list[asyncio.StreamWriter]:
    host, port = base.removeprefix("http://").split(":")
    sem = asyncio.Semaphore(200)
    writers: list[asyncio.StreamWriter] = []

    async def one(n: int, message_id: str) -> None:
        async with sem:
            _reader, writer = await asyncio.open_connection(host, int(port))
            request = (
                f"GET /bench/{message_id}?wait=30 HTTP/1.1\r\nHost: {host}\r\n"
                f"Authorization: Bearer {tokens[n % len(tokens)]}\r\n\r\n"
            )
            writer.write(request.encode())
            await writer.drain()
            writers.append(writer)

    await asyncio.gather(*(one(n, i) for n, i in enumerate(ids)))
    return writers


def _pending_ids(db: Path) -> list[str]:
    import sqlite3

    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return [r[0] for r in conn.execute("SELECT id FROM messages WHERE status = 'PENDING'")]
    finally:
        conn.close()


async def _memory(bench: Bench) -> None:
    sizes, tokens = bench.sizes, bench.keys.tokens
    async with Topology("embedded", bench.keys) as topo:
        assert topo.server is not None
        await asyncio.to_thread(wrk.run_wrk, topo.base, "/bench", tokens, BODY, duration=1)
        await wait_drained(topo.db, topo.procs)
        rss_start = topo.server.rss_mb()
        body = [BODY] * BATCH
        quota = max(1, sizes.memory_messages // BATCH)
        await asyncio.to_thread(
            wrk.run_wrk, topo.base, "/bench/batch", tokens, body,
            quota=quota, expect=207, connections=BATCH_CONNECTIONS,
        )  # fmt: skip
        await wait_drained(topo.db, topo.procs)
        rss_after = topo.server.rss_mb()
        bench.record("memory", "rss start", rss_start, "MB", WRK)
        bench.record("memory", "rss after messages", rss_after, "MB", WRK)
        bench.record("memory", "growth", rss_after - rss_start, "MB", WRK)
        quota = max(1, sizes.waiters // BATCH)
        path = "/bench/batch?delay=3600"
        await asyncio.to_thread(
            wrk.run_wrk, topo.base, path, tokens, body, quota=quota, expect=207, **FILL
        )
        ids = _pending_ids(topo.db)[: sizes.waiters]
        random.shuffle(ids)
        duration = min(bench.sizes.duration, 10)
        plain = await asyncio.to_thread(
            wrk.run_wrk, topo.base, "/bench", tokens, BODY, duration=duration
        )
        rss_before_waiters = topo.server.rss_mb()
        writers = await _open_waiters(topo.base, ids, tokens)
        try:
            await asyncio.sleep(2)
            rss_waiters = topo.server.rss_mb()
            loaded = await asyncio.to_thread(
                wrk.run_wrk, topo.base, "/bench", tokens, BODY, duration=duration
            )
        finally:
            for writer in writers:
                writer.close()
        bench.record("memory", "waiters", len(writers), "conn", WRK)
        bench.record("memory", "waiters cost", rss_waiters - rss_before_waiters, "MB", WRK)
        bench.record("memory", "push without waiters", plain["rate"], "req/s", WRK)
        bench.record("memory", "push with waiters", loaded["rate"], "req/s", WRK)
        bench.record("memory", "push ratio", loaded["rate"] / plain["rate"], "x", WRK)


async def memory(bench: Bench) -> None:
    """RSS growth over many messages; the cost of many long-poll waiters."""
    for _ in range(bench.sizes.runs):
        await _memory(bench)
