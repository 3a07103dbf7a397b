"""``python -m bench``: issue 10's benchmark suite against this machine's own ceilings.

Runs the selected benchmarks (all by default) each ``runs`` times, prints a Markdown table
(median and min-max, core count, versions, load average) with the targets' verdicts, and
writes everything as JSON to ``bench/results/<UTC time>.json`` (git-ignored). Needs ``wrk``
on PATH and RabbitMQ at ``$BENCH_BROKER`` (default the local guest account); every queue it
declares has a unique prefix and is deleted afterwards. Exit status 0 when every benchmark
ran (a missed target is a finding, not a failure), 1 when one failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from bench import observed, report, runs_more, runs_throughput, topology, wrk
from bench.common import BROKER, HERE, Keys, rabbitmq_version
from bench.suite import FULL, QUICK, TINY, Bench
from bench.topology import EVENT_LOOPS, TOPOLOGIES

BENCHMARKS: dict[str, Callable[[Bench], Awaitable[None]]] = {
    "http-ceiling": runs_throughput.http_ceiling,
    "auth-schema-ceiling": runs_throughput.auth_schema_ceiling,
    "raw": runs_throughput.raw,
    "push": runs_throughput.push,
    "e2e": runs_throughput.e2e,
    "observed": observed.observed,
    "e2e-batch": runs_throughput.e2e_batch,
    "latency": runs_more.latency,
    "scale": runs_more.scale,
    "memory": runs_more.memory,
}


def _csv(choices: tuple[str, ...]) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        items = [item.strip() for item in text.split(",") if item.strip()]
        unknown = [i for i in items if i not in choices]
        if unknown:
            raise argparse.ArgumentTypeError(f"unknown {unknown}; choose from {', '.join(choices)}")
        return items

    return parse


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--only", type=_csv(tuple(BENCHMARKS)), help="comma-separated benchmarks")
    parser.add_argument(
        "--topologies", type=_csv(TOPOLOGIES), help="for e2e, observed, e2e-batch, latency"
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="about a tenth of the sizes (3 runs)")
    size.add_argument("--tiny", action="store_true", help="one tiny run each: does it start?")
    parser.add_argument("--runs", type=int, help="runs per benchmark (default 3; --tiny: 1)")
    parser.add_argument(
        "--event-loop",
        choices=EVENT_LOOPS,
        default="asyncio",
        help="of Conveyor (`default`: none passed, its own default)",
    )
    parser.add_argument("--out", type=Path, default=HERE / "results", help="directory for the JSON")
    return parser.parse_args(argv)


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


async def main_async(args: argparse.Namespace) -> int:
    if not wrk.available():
        print("wrk is not installed (Debian: apt-get install wrk)", file=sys.stderr)
        return 2
    sizes = TINY if args.tiny else QUICK if args.quick else FULL
    if args.runs:
        from dataclasses import replace

        sizes = replace(sizes, runs=args.runs)
    names = args.only or list(BENCHMARKS)
    topology.EVENT_LOOP[0] = args.event_loop
    meta: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "aiohttp": aiohttp.__version__,
        "rabbitmq": await rabbitmq_version(BROKER),
        "wrk": wrk.version(),
        "load_before": _load(),
        "benchmarks": names,
        "event_loop": args.event_loop,
    }
    failed: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="conveyor-bench-keys-") as tmp:
        bench = Bench(sizes, Keys(Path(tmp)), tuple(args.topologies or TOPOLOGIES))
        for name in names:
            print(f"==> {name}", file=sys.stderr, flush=True)
            started = time.monotonic()
            try:
                await BENCHMARKS[name](bench)
            except Exception as exc:
                traceback.print_exc()
                failed[name] = f"{type(exc).__name__}: {exc}"
            print(f"    {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
            meta["load_after"] = _load()
            meta["failed"] = failed
            out = _write(args.out, meta, bench)  # after each benchmark: a long run keeps its part
            await asyncio.sleep(1)
    print(report.table(bench, meta))
    print(f"\nJSON: {out}")
    for name, reason in failed.items():
        print(f"FAILED {name}: {reason}", file=sys.stderr)
    return 1 if failed else 0


def _write(directory: Path, meta: dict[str, Any], bench: Bench) -> Path:
    document = {"meta": meta, **bench.as_json(), "targets": report.verdicts(bench)}
    directory.mkdir(parents=True, exist_ok=True)
    out = directory / f"{meta['started'].replace(':', '')}.json"
    out.write_text(json.dumps(document, indent=2))
    return out


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(main_async(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
