"""The dashboard rollups' cost: the consumer's in-memory add per finished run, and a flush.

``python -m bench.rollups [--runs N] [--rounds K] [--queues Q]`` times
``consumer.run_counts.RollupCounter.add`` over N runs spread over Q queues with log-normal
durations (the only rollup work on the per-message path), median µs per run of K rounds;
then the flush's write: one ``add_rollups`` of Q rows (each with its buckets) into a fresh
SQLite store (and a MongoDB one with ``--mongo URL``), median ms per flush of K flushes.
Single-threaded and CPU-bound for the add: steady on a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from consumer.run_counts import RollupCounter
from shared.adapters.mongo.collection import MongoStore
from shared.adapters.sqlite.database import SqliteStore
from shared.domain.message import Status
from shared.ports import Store

OUTCOMES = [Status.COMPLETE] * 90 + [Status.ERROR] * 5 + [Status.PENDING] * 5


def _add_per_run(runs: list[tuple[str, Status, float]]) -> float:
    counter = RollupCounter()
    add = counter.add
    start = time.perf_counter()
    for queue, status, duration in runs:
        add(queue, status, duration)
    return (time.perf_counter() - start) / len(runs) * 1e6


async def _flush_ms(store: Store, runs: list[tuple[str, Status, float]], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        counter = RollupCounter()
        for queue, status, duration in runs:
            counter.add(queue, status, duration)
        rows = counter.take()
        start = time.perf_counter()
        await store.add_rollups(rows)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


async def _flushes(args: argparse.Namespace, runs: list[tuple[str, Status, float]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = SqliteStore(Path(tmp) / "bench.db")
        await sqlite.open()
        try:
            ms = await _flush_ms(sqlite, runs, args.rounds)
            print(f"  flush, SQLite:  {ms:7.2f} ms per flush of {args.queues} rows")
        finally:
            await sqlite.close()
    if args.mongo:
        mongo = MongoStore(args.mongo, f"bench_{uuid.uuid4().hex[:8]}", "messages")
        await mongo.open()
        try:
            ms = await _flush_ms(mongo, runs, args.rounds)
            print(f"  flush, MongoDB: {ms:7.2f} ms per flush of {args.queues} rows")
        finally:
            client = mongo._db.client
            if client is not None:
                await client.drop_database(mongo._db.names[0])
            await mongo.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--queues", type=int, default=4)
    parser.add_argument("--mongo", help="a MongoDB URL: also time the flush there")
    args = parser.parse_args()
    rng = random.Random(1)
    names = [f"q{i}" for i in range(args.queues)]
    runs = [
        (rng.choice(names), rng.choice(OUTCOMES), rng.lognormvariate(-4, 1.5))
        for _ in range(args.runs)
    ]
    per_run = statistics.median(_add_per_run(runs) for _ in range(args.rounds))
    print(f"{args.runs} runs over {args.queues} queues, median of {args.rounds} rounds")
    print(f"  RollupCounter.add: {per_run:6.2f} µs per finished run")
    asyncio.run(_flushes(args, runs[:2000]))


if __name__ == "__main__":
    main()
