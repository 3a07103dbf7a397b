"""A/B against a same-run baseline: ``python -m bench.ab --before DIR --after DIR``.

Issue 19's protocol: a change is judged against a checkout of the tree before it, measured
alternately with the tree after it on the same machine in the same session (before, after,
before, after, ...), each measurement the median of ``--repeats`` (3) fresh runs, and the
verdict read from the ratio within each pair, never from figures taken at another time.

Each measurement is ``python -m bench.observed --json`` run as its own process from *this*
bench (so both sides are driven by the same code) with ``--product`` set to the side's
checkout: its ``conveyor`` processes run with that checkout on ``PYTHONPATH`` and as their
working directory. ``--event-loop`` is passed to both sides (``asyncio`` for like for like
with a tree older than ``--event-loop auto``); each ``--also-after LOOP`` adds a third arm,
the after-tree on that loop (``default``: none passed), to the same alternation.

Printed: per round and topology, each arm's rate, p50, p99 and Conveyor CPU per message (in
all and per process), with its ratio to the same round's ``before``; then the median of
those per-pair ratios. The JSON goes to ``bench/results/ab-<time>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import HERE
from bench.topology import EVENT_LOOPS, TOPOLOGIES

METRICS = (("rate", "msg/s"), ("p50", "ms"), ("p99", "ms"), ("cpu", "us/msg"))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.ab", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--before", type=Path, required=True, help="baseline checkout")
    parser.add_argument("--after", type=Path, required=True, help="checkout under test")
    parser.add_argument("--topologies", default="embedded,shared-1", help=", ".join(TOPOLOGIES))
    parser.add_argument("--messages", type=int, default=5_000, help="per run")
    parser.add_argument(
        "--clients", type=int, default=64,
        help="concurrent clients (1: one message at a time, no batching to vary with load)",
    )  # fmt: skip
    parser.add_argument("--rounds", type=int, default=3, help="before/after pairs")
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--event-loop", choices=EVENT_LOOPS, default="asyncio")
    parser.add_argument(
        "--also-after", choices=EVENT_LOOPS, action="append", default=[], metavar="LOOP",
        help="a third arm: the after-tree on this loop (repeatable)",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args(argv)
    args.topologies = [t.strip() for t in args.topologies.split(",") if t.strip()]
    if unknown := set(args.topologies) - set(TOPOLOGIES):
        parser.error(f"unknown topologies {sorted(unknown)}")
    for side in (args.before, args.after):
        if not (side / "conveyor" / "__main__.py").exists():
            parser.error(f"{side} is not a Conveyor checkout (no conveyor/__main__.py)")
    return args


def arms(args: argparse.Namespace) -> list[tuple[str, Path, str]]:
    """(label, checkout, event loop) in the order each round measures them."""
    found = [("before", args.before, args.event_loop), ("after", args.after, args.event_loop)]
    found += [(f"after, {loop} loop", args.after, loop) for loop in args.also_after]
    return found


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _load1() -> str:
    return f"{os.getloadavg()[0]:.2f}"


def measure(args: argparse.Namespace, topology: str, product: Path, loop: str) -> dict[str, Any]:
    """One arm's measurement: ``bench.observed`` in its own process; medians and rounds."""
    command = [
        sys.executable, "-m", "bench.observed", "--json", "--topologies", topology,
        "--messages", str(args.messages), "--rounds", str(args.repeats),
        "--clients", str(args.clients),
        "--product", str(product.resolve()), "--event-loop", loop,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    load = _load1()
    done = subprocess.run(
        command, cwd=HERE.parent, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr[-3000:]}")
    document = json.loads(done.stdout.splitlines()[-1])
    return {
        "medians": document["medians"][topology],
        "rounds": document["rounds"][topology],
        "load": f"{load} → {_load1()}",
    }


def _processes(medians: dict[str, float]) -> str:
    """``serve 733 (main 600)``: each process's CPU per message, and its event loop's."""
    names = [
        m.removeprefix("cpu ")
        for m in medians
        if m.startswith("cpu ") and not m.endswith((" main", " threads"))
    ]
    return ", ".join(
        f"{n} {medians[f'cpu {n}']:.0f} (main {medians[f'cpu {n} main']:.0f})" for n in names
    )


def report(args: argparse.Namespace, results: list[dict[str, Any]]) -> str:
    """The Markdown tables: every measurement, then the median per-pair ratios."""
    lines = [
        "| round | topology | arm | rate (msg/s) | p50 (ms) | p99 (ms) | CPU (µs/msg) "
        "| CPU / before | CPU by process, µs/msg (event-loop thread) | load average (1 min) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    ratios: dict[tuple[str, str], dict[str, list[float]]] = {}
    for r in results:
        m = r["medians"]
        base = next(
            x["medians"] for x in results
            if (x["round"], x["topology"], x["arm"]) == (r["round"], r["topology"], "before")
        )  # fmt: skip
        for metric, _unit in METRICS:
            key = (r["topology"], r["arm"])
            ratios.setdefault(key, {}).setdefault(metric, []).append(m[metric] / base[metric])
        lines.append(
            f"| {r['round']} | {r['topology']} | {r['arm']} | {m['rate']:,.0f} | {m['p50']:.1f} "
            f"| {m['p99']:.1f} | {m['cpu']:,.0f} | {m['cpu'] / base['cpu']:.2f} "
            f"| {_processes(m)} | {r['load']} |"
        )
    lines += [
        "",
        "Median of the per-round ratios to `before` (below 1: less CPU, lower latency; "
        "above 1 for the rate: faster):",
        "",
        "| topology | arm | rate | p50 | p99 | CPU per message |",
        "|---|---|---|---|---|---|",
    ]
    for (topology, arm), found in ratios.items():
        if arm != "before":
            cells = " | ".join(f"{statistics.median(found[m]):.2f}" for m, _u in METRICS)
            lines.append(f"| {topology} | {arm} | {cells} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.strftime("%Y-%m-%dT%H%M%SZ", time.gmtime())
    meta = {"started": started, "load_before": _load(), "cores": os.cpu_count()}
    meta |= {k: str(v) for k, v in vars(args).items()}
    results: list[dict[str, Any]] = []
    for n in range(1, args.rounds + 1):
        for topology in args.topologies:
            for label, product, loop in arms(args):
                print(f"==> round {n}, {topology}, {label}", file=sys.stderr, flush=True)
                found = measure(args, topology, product, loop)
                results.append({"round": n, "topology": topology, "arm": label, **found})
    meta["load_after"] = _load()
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"ab-{started}.json"
    out.write_text(json.dumps({"meta": meta, "results": results}, indent=2))
    print(
        f"before {args.before.resolve()}, after {args.after.resolve()}; {args.messages} messages "
        f"per run from {args.clients} clients, median of "
        f"{args.repeats} runs per measurement, {args.rounds} rounds; event loop "
        f"{args.event_loop}; {meta['cores']} cores; load average {meta['load_before']} "
        f"before, {meta['load_after']} after\n"
    )
    print(report(args, results))
    print(f"\nJSON: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
