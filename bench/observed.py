"""``observed``: end to end as the user sees it, and what it costs Conveyor per message.

64 clients (``CLIENTS``) each push a message, read it with ``GET /bench/{id}?wait=30`` until
it is final, then push the next, until ``messages`` are done (the no-op ``bench`` handler,
the topology started as ``e2e`` starts it, ``bench.topology``). Measured:

- ``rate``: messages per second the clients saw final, first push to last final answer;
- ``p50`` / ``p99``: per message, from sending the push to reading the final record;
- ``cpu``: user + system CPU of every Conveyor process over the run (``/proc/<pid>/stat``),
  per message; ``cpu <process>`` the same per process and ``cpu <process> main`` /
  ``threads`` split between its event-loop thread and the others (``/proc/<pid>/task``);
- ``client cpu`` / ``client load``: the load generator's own CPU per message (not counted
  above) and its share of one core over the run: near 1, it, not Conveyor, set the pace
  (then use more ``--client-processes``).

The clients run in separate processes (``bench.observed_client``, aiohttp on uvloop); they
warm up with one message each, then all start together. As a suite benchmark:
``python -m bench --only observed``. Alone, for A/B rounds (``bench.ab`` runs it this way)::

    python -m bench.observed --topologies embedded,shared-1 --messages 5000 --rounds 3 \\
        [--product DIR] [--event-loop asyncio|uvloop|auto|default] [--json] [--post-wait]

``--post-wait``: each client sends ``POST /bench?wait=30`` alone (issue 19's one-request form)
instead of the push and the ``GET ?wait``.

``--product DIR`` runs the ``conveyor`` processes from another checkout (their
``PYTHONPATH`` and working directory); this bench code drives them either way.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench import common
from bench.common import HERE, Keys, cpu_split, cpu_used, store_counts
from bench.suite import Bench
from bench.topology import EVENT_LOOP, EVENT_LOOPS, TOPOLOGIES, Topology

CLIENTS = 64
GENERATOR = f"Python aiohttp client process, {CLIENTS} clients: POST, GET ?wait=30 until final"


async def _start_clients(
    topo: Topology, tokens: list[str], messages: int, clients: int, processes: int, style: str
) -> list[asyncio.subprocess.Process]:
    tokens_file = topo.tmp / "tokens.json"
    tokens_file.write_text(json.dumps(tokens))
    started = []
    for k in range(processes):
        share = messages // processes + (1 if k < messages % processes else 0)
        per = clients // processes + (1 if k < clients % processes else 0)
        args = [topo.base, str(share), str(per), str(tokens_file), style]
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.observed_client", *args,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=HERE.parent,
        )  # fmt: skip
        started.append(proc)
    for proc in started:
        assert proc.stdout is not None
        if (await proc.stdout.readline()).strip() != b"READY":
            raise RuntimeError(f"observed client exited {await proc.wait()} before its warm-up")
    return started


async def _drive(
    topo: Topology, tokens: list[str], messages: int, clients: int, processes: int, style: str
) -> tuple[list[dict[str, Any]], dict[str, dict[str, float]]]:
    """Clients started and warmed up, CPU read, go, results; CPU used by each process."""
    started = await _start_clients(topo, tokens, messages, clients, processes, style)
    pids = dict(zip(topo.names, [p.pid for p in topo.procs], strict=True))
    before = {name: cpu_split(pid) for name, pid in pids.items()}
    for proc in started:
        assert proc.stdin is not None
        proc.stdin.write(b"GO\n")
        await proc.stdin.drain()
    outputs = [await proc.communicate() for proc in started]
    after = {name: cpu_split(pid) for name, pid in pids.items()}
    for proc in started:
        if proc.returncode:
            raise RuntimeError(f"observed client exited {proc.returncode}")
    results = [json.loads(out.splitlines()[-1]) for out, _err in outputs]
    return results, {name: cpu_used(before[name], after[name]) for name in pids}


async def measure(
    topology: str,
    keys: Keys,
    messages: int,
    clients: int = CLIENTS,
    processes: int = 1,
    style: str = "get-wait",
) -> dict[str, float]:
    """One fresh ``topology``, ``messages`` observed by ``clients``: the metrics above
    (``style``: ``get-wait``, POST then GET ?wait; ``post-wait``, POST ?wait alone)."""
    async with Topology(topology, keys) as topo:
        await topo.wait_consumers("bench")
        results, used = await _drive(topo, keys.tokens, messages, clients, processes, style)
        for proc in topo.procs:
            proc.check_alive()
        counts = store_counts(topo.db)
    if counts.get("ERROR") or sum(counts.values()) != messages + clients:
        raise RuntimeError(f"observed {topology}: store holds {counts}")
    samples = sorted(s for r in results for s in r["samples"])
    wall = max(r["ended"] for r in results) - min(r["began"] for r in results)
    quantiles = statistics.quantiles(samples, n=100) if len(samples) > 1 else samples * 99
    client_cpu = sum(r["cpu"] for r in results)
    found = {
        "rate": len(samples) / wall,
        "p50": quantiles[49] * 1000,
        "p99": quantiles[98] * 1000,
        "cpu": sum(u["total"] for u in used.values()) / len(samples) * 1e6,
    }
    for name, u in used.items():
        for part in ("total", "main", "threads"):
            label = f"cpu {name}" if part == "total" else f"cpu {name} {part}"
            found[label] = u[part] / len(samples) * 1e6
    found["client cpu"] = client_cpu / len(samples) * 1e6
    found["client load"] = client_cpu / wall / processes
    return found


UNITS = {"rate": "msg/s", "p50": "ms", "p99": "ms", "client load": "core"}


def unit(metric: str) -> str:
    return UNITS.get(metric, "us/msg")


async def observed(bench: Bench) -> None:
    """The suite's benchmark: each topology, ``observed_messages`` per run."""
    for _ in range(bench.sizes.runs):
        for topology in bench.topologies:
            found = await measure(topology, bench.keys, bench.sizes.observed_messages)
            for metric, value in found.items():
                bench.record(f"observed/{topology}", metric, value, unit(metric), GENERATOR)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.observed", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--topologies", default="embedded", help=f"of {', '.join(TOPOLOGIES)}")
    parser.add_argument("--messages", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=3, help="fresh processes each round")
    parser.add_argument("--clients", type=int, default=CLIENTS)
    parser.add_argument("--client-processes", type=int, default=1)
    parser.add_argument("--product", type=Path, help="checkout to run conveyor from")
    parser.add_argument("--event-loop", choices=EVENT_LOOPS, default="asyncio")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    parser.add_argument(
        "--post-wait",
        action="store_true",
        help="each client sends POST /bench?wait=30 instead of POST then GET ?wait=30",
    )
    args = parser.parse_args(argv)
    args.topologies = [t.strip() for t in args.topologies.split(",") if t.strip()]
    if unknown := set(args.topologies) - set(TOPOLOGIES):
        parser.error(f"unknown topologies {sorted(unknown)}")
    return args


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    common.PRODUCT[0] = args.product.resolve() if args.product else None
    EVENT_LOOP[0] = args.event_loop
    rounds: dict[str, list[dict[str, float]]] = {t: [] for t in args.topologies}
    with tempfile.TemporaryDirectory(prefix="conveyor-observed-keys-") as tmp:
        keys = Keys(Path(tmp))
        for _ in range(args.rounds):
            for topology in args.topologies:
                style = "post-wait" if args.post_wait else "get-wait"
                found = await measure(
                    topology, keys, args.messages, args.clients, args.client_processes, style
                )
                rounds[topology].append(found)
    medians = {
        t: {m: statistics.median(r[m] for r in runs) for m in runs[0]} for t, runs in rounds.items()
    }
    return {"rounds": rounds, "medians": medians}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    document = asyncio.run(main_async(args))
    if args.json:
        print(json.dumps(document))
        return 0
    product = args.product or "this checkout"
    how = "POST ?wait=30" if args.post_wait else "POST, then GET ?wait=30"
    print(f"observed ({how}): {args.messages} messages, {args.clients} clients, from {product}")
    print(f"event loop {args.event_loop}; medians of {args.rounds} round(s)\n")
    for topology, metrics in document["medians"].items():
        for metric, value in metrics.items():
            runs = ", ".join(f"{r[metric]:.3g}" for r in document["rounds"][topology])
            print(f"{topology:9} {metric:28} {value:10.4g} {unit(metric):6} ({runs})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
