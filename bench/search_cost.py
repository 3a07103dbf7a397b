"""What body-field search indexes cost a push (SQLite store): ``python -m bench.search_cost``.

Three setups on fresh SQLite files, alternated ``--runs`` times: ``none`` (no search index in
the file), ``other`` (8 indexed fields on another queue, pushes to an unmarked queue: the
cost a queue without marks pays must be nil), ``marked`` (pushes to the queue with the 8
indexed fields). Each inserts ``--records`` records one at a time through
``SqliteStore.insert`` (the push's store write) and reports µs per insert (median and range)
and the search index entries written (dbstat cells of the search indexes). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from shared.adapters.sqlite.database import SqliteStore
from shared.domain.message import MessageRecord

FIELDS = [f"f{i}" for i in range(8)]
SETUPS = ("none", "other", "marked")


async def one_run(setup: str, records: int, directory: Path) -> tuple[float, int]:
    """µs per insert and the search index entries written, for one setup."""
    store = SqliteStore(directory / f"{setup}.db")
    await store.open()
    try:
        if setup != "none":
            for field in FIELDS:
                await store.build_index("marked", field)
        queue = "marked" if setup == "marked" else "plain"
        body = {field: f"value-{i}" for i, field in enumerate(FIELDS)} | {"n": 1}
        made = [MessageRecord.new(queue, body) for _ in range(records)]
        start = time.perf_counter()
        for record in made:
            await store.insert(record)
        elapsed = time.perf_counter() - start
        entries = await store._db.run(
            lambda c: c.execute(
                "SELECT COALESCE(SUM(ncell), 0) FROM dbstat WHERE name LIKE 'search:%'"
            ).fetchone()[0]
        )
        return elapsed / records * 1e6, int(entries)
    finally:
        await store.close()


async def main(records: int, runs: int) -> None:
    times: dict[str, list[float]] = {s: [] for s in SETUPS}
    entries: dict[str, int] = {}
    for _ in range(runs):
        for setup in SETUPS:
            with tempfile.TemporaryDirectory() as tmp:
                micros, written = await one_run(setup, records, Path(tmp))
            times[setup].append(micros)
            entries[setup] = written
    print(f"{records} inserts per run, {runs} runs, alternated\n")
    print("| setup | µs per insert (median) | min-max | search index entries |")
    print("|---|---|---|---|")
    for setup in SETUPS:
        t = times[setup]
        print(
            f"| {setup} | {statistics.median(t):.1f} | {min(t):.1f}-{max(t):.1f}"
            f" | {entries[setup]} |"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.records, args.runs))
