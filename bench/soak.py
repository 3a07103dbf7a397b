"""Soak: a steady push rate against one ``conveyor serve`` for ``--seconds``, sampling the
server's resident memory, open descriptors and asyncio tasks as it goes.

The server runs under ``bench/probe_serve.py`` (conveyor's own CLI plus a task counter).
Messages are pushed at ``--rate`` per second to the ``bench`` queue, with a 2 KB body,
and a fraction of them are read back (GET) and long-polled (``?wait=``) as clients do.
Reports the first sample after a warm-up and the last, plus the largest seen, and whether
every accepted message completed. Run by hand (issue 8, section 6):

    .venv/bin/python bench/soak.py --seconds 600 --rate 100
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from serving import HERE, Serve, percentile, wait_all_complete


@dataclass(frozen=True)
class Sample:
    at: float
    rss_mib: float
    fds: int
    tasks: int


def last_task_count(probe: Path) -> int:
    lines = probe.read_text().splitlines() if probe.exists() else []
    return int(lines[-1].split()[1]) if lines else -1


async def run(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="conveyor-soak-"))
    probe = workdir / "tasks.log"
    os.environ["BENCH_PROBE_FILE"] = str(probe)
    os.environ["BENCH_PROBE_SECONDS"] = "5"
    serve = Serve(workdir, extra=["--log-level", "warning"], wrapper=HERE / "probe_serve.py")
    serve.start()
    await serve.ready()
    token = serve.token()
    headers = {"Authorization": f"Bearer {token}"}
    samples: list[Sample] = []
    ids: list[str] = []
    latencies: list[float] = []
    errors: collections.Counter[str] = collections.Counter()
    body = {"n": 0, "pad": "x" * 2048}
    try:
        async with aiohttp.ClientSession(headers=headers) as session:
            start = time.monotonic()
            end = start + args.seconds

            async def push(i: int) -> None:
                t = time.perf_counter()
                try:
                    async with session.post(f"{serve.url}/bench", json=body) as resp:
                        answer = await resp.json(content_type=None)
                        if resp.status != 201:
                            errors[str(resp.status)] += 1
                            return
                    latencies.append(time.perf_counter() - t)
                    ids.append(answer["id"])
                    if i % 10 == 0:  # read back one in ten, long-polling for its result
                        url = f"{serve.url}/bench/{answer['id']}?wait=5"
                        async with session.get(url) as resp:
                            await resp.read()
                except (aiohttp.ClientError, TimeoutError) as exc:
                    errors[type(exc).__name__] += 1

            async def sampler() -> None:
                while time.monotonic() < end:
                    await asyncio.sleep(10)
                    sample = Sample(
                        time.monotonic() - start,
                        serve.rss_mib(),
                        serve.open_fds(),
                        last_task_count(probe),
                    )
                    samples.append(sample)
                    print(
                        f"t={sample.at:5.0f} s  RSS {sample.rss_mib:6.1f} MiB  "
                        f"fds {sample.fds:4}  tasks {sample.tasks:4}  accepted {len(ids)}",
                        flush=True,
                    )

            sampling = asyncio.create_task(sampler())
            running: set[asyncio.Task[None]] = set()
            i = 0
            while time.monotonic() < end:
                task = asyncio.create_task(push(i))
                running.add(task)
                task.add_done_callback(running.discard)
                i += 1
                await asyncio.sleep(max(0.0, start + i / args.rate - time.monotonic()))
            await asyncio.gather(*running)
            await sampling
        counts = await wait_all_complete(serve.url, token, "bench", ids)
        await asyncio.sleep(12)  # every client connection closed, and a new task sample taken
        final = Sample(
            time.monotonic() - start, serve.rss_mib(), serve.open_fds(), last_task_count(probe)
        )
    finally:
        code = serve.stop()
    warm = next((s for s in samples if s.at >= args.warmup), samples[0])
    last = samples[-1]
    print(f"\nsoak {args.seconds:.0f} s at {args.rate:g} pushes/s: pushed {i}, accepted {len(ids)}")
    print(f"errors {sum(errors.values())} {dict(errors)}; final statuses {counts}")
    if latencies:
        print(
            f"push latency p50 {statistics.median(latencies) * 1000:.1f} ms, "
            f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms"
        )
    for name, s in (("after warm-up", warm), ("at the end", last)):
        print(f"{name:14} t={s.at:5.0f} s: RSS {s.rss_mib:.1f} MiB, {s.fds} fds, {s.tasks} tasks")
    print(
        f"largest seen: RSS {max(s.rss_mib for s in samples):.1f} MiB, "
        f"{max(s.fds for s in samples)} fds, {max(s.tasks for s in samples)} tasks; "
        f"after the drain (no client connected): RSS {final.rss_mib:.1f} MiB, {final.fds} fds, "
        f"{final.tasks} tasks; exit {code}"
    )
    print(f"samples: {probe}, serve log: {serve.log}")
    return 0 if not errors and counts.get("COMPLETE", 0) == len(ids) else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--rate", type=float, default=100.0, help="pushes per second")
    parser.add_argument("--warmup", type=float, default=60.0, help="first sample compared")
    raise SystemExit(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
