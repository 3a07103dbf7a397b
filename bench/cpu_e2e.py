"""CPU per message at saturation, by process and by thread: ``python -m bench.cpu_e2e``.

``python -m bench.cpu_e2e [--topologies embedded,broker,shared-1,shared-2] [--messages N]
[--rounds K] [--product DIR] [--event-loop L]`` starts each topology as ``e2e`` does
(``bench.topology``), pushes N messages flat out with wrk (64 connections), waits until
every one is final, and reports the end-to-end rate and, for every Conveyor process (serve,
or the gateway and each consumer), its CPU microseconds per message: in all, on its
event-loop thread (``main``) and on its other threads together (``threads``: the SQLite
store's thread, executors, threads that ended). At saturation the event loop is the
bottleneck, so ``main`` predicts the rate, and ``threads`` shows work done beside it (which
still costs the loop when it holds the GIL). Alternate rounds between two checkouts for an
A/B (``--product``): the split moves much less between runs than the rate does.
``python -m bench.observed`` measures the same CPU with clients reading every result.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from pathlib import Path

from bench import common, wrk
from bench.common import BODY, Keys, cpu_split, cpu_used, last_final, wait_drained
from bench.runs_throughput import BATCH, BATCH_CONNECTIONS
from bench.topology import EVENT_LOOP, EVENT_LOOPS, TOPOLOGIES, Topology


async def one_round(
    topology: str, messages: int, keys: Keys, batch: bool = False
) -> dict[str, float]:
    """One fresh topology, ``messages`` pushed flat out (``batch``: as ``e2e-batch`` does, in
    ``POST /bench/batch`` of 100 over 8 connections): rate and CPU us/msg per process."""
    if batch:
        path, body, quota, expect, connections = (
            "/bench/batch",
            [BODY] * BATCH,
            messages // BATCH,
            207,
            BATCH_CONNECTIONS,
        )
    else:
        path, body, quota, expect, connections = "/bench", BODY, messages, 201, 64
    async with Topology(topology, keys) as topo:
        await topo.wait_consumers("bench")
        pids = dict(zip(topo.names, [p.pid for p in topo.procs], strict=True))
        before = {name: cpu_split(pid) for name, pid in pids.items()}
        result = await asyncio.to_thread(
            wrk.run_wrk, topo.base, path, keys.tokens, body,
            quota=quota, expect=expect, connections=connections,
        )  # fmt: skip
        await wait_drained(topo.db, topo.procs)
        after = {name: cpu_split(pid) for name, pid in pids.items()}
        _first, last, final = last_final(topo.db)
    found = {"rate": final / (last - result["started"]), "cpu": 0.0}
    for name in pids:
        used = cpu_used(before[name], after[name])
        for part in ("total", "main", "threads"):
            label = f"{name}" if part == "total" else f"{name} {part}"
            found[label] = used[part] / final * 1e6
        found["cpu"] += found[name]
    return found


async def run(args: argparse.Namespace) -> dict[str, list[dict[str, float]]]:
    rounds: dict[str, list[dict[str, float]]] = {t: [] for t in args.topologies}
    with tempfile.TemporaryDirectory(prefix="conveyor-cpu-e2e-") as tmp:
        keys = Keys(Path(tmp))
        for _ in range(args.rounds):
            for topology in args.topologies:
                found = await one_round(topology, args.messages, keys, args.batch)
                rounds[topology].append(found)
    return rounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--topologies", default="embedded", help=", ".join(TOPOLOGIES))
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--product", type=Path, help="checkout to run conveyor from")
    parser.add_argument("--event-loop", choices=EVENT_LOOPS, default="asyncio")
    parser.add_argument(
        "--batch", action="store_true", help="push as e2e-batch does: POST /bench/batch of 100"
    )
    args = parser.parse_args()
    args.topologies = [t.strip() for t in args.topologies.split(",") if t.strip()]
    if unknown := set(args.topologies) - set(TOPOLOGIES):
        parser.error(f"unknown topologies {sorted(unknown)}")
    common.PRODUCT[0] = args.product.resolve() if args.product else None
    EVENT_LOOP[0] = args.event_loop
    for topology, rounds in asyncio.run(run(args)).items():
        print(f"{topology} (medians of {len(rounds)}; each round in brackets)")
        for name in dict.fromkeys(k for r in rounds for k in r):
            values = [r.get(name, 0.0) for r in rounds]
            unit = "msg/s" if name == "rate" else "us/msg"
            shown = ", ".join(f"{v:.0f}" for v in values)
            print(f"  {name:32} {statistics.median(values):8.0f} {unit} ({shown})")


if __name__ == "__main__":
    main()
