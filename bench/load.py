"""Load: ``--clients`` HTTP clients push as fast as they can for ``--seconds`` against one
``conveyor serve`` (embedded SQLite + in-process delivery), then every accepted message is
read back until it is final.

Reports errors (any answer but 201, and failed requests), push latency p50/p99/max,
pushes/s, and how many messages completed. Run by hand (issue 8, section 6):

    .venv/bin/python bench/load.py --clients 200 --seconds 60
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp
from serving import Serve, percentile, wait_all_complete


async def run(args: argparse.Namespace) -> int:
    serve = Serve(Path(tempfile.mkdtemp(prefix="conveyor-load-")), extra=["--log-level", "warning"])
    serve.start()
    await serve.ready()
    token = serve.token()
    latencies: list[float] = []
    ids: list[str] = []
    errors: collections.Counter[str] = collections.Counter()
    try:
        connector = aiohttp.TCPConnector(limit=args.clients)
        headers = {"Authorization": f"Bearer {token}"}
        timeout = aiohttp.ClientTimeout(total=60)
        async with aiohttp.ClientSession(
            connector=connector, headers=headers, timeout=timeout
        ) as session:
            end = time.monotonic() + args.seconds

            async def client(c: int) -> None:
                n = 0
                while time.monotonic() < end:
                    started = time.perf_counter()
                    try:
                        async with session.post(f"{serve.url}/bench", json={"n": n}) as resp:
                            body = await resp.json(content_type=None)
                            if resp.status == 201:
                                ids.append(body["id"])
                                latencies.append(time.perf_counter() - started)
                            else:
                                errors[str(resp.status)] += 1
                    except (aiohttp.ClientError, TimeoutError) as exc:
                        errors[type(exc).__name__] += 1
                    n += 1

            t0 = time.perf_counter()
            await asyncio.gather(*(client(c) for c in range(args.clients)))
            pushed_for = time.perf_counter() - t0
        counts = await wait_all_complete(serve.url, token, "bench", ids)
        rss, fds = serve.rss_mib(), serve.open_fds()
    finally:
        code = serve.stop()
    print(f"clients {args.clients}, {pushed_for:.1f} s of pushing")
    print(
        f"accepted {len(ids)} ({len(ids) / pushed_for:,.0f} pushes/s), "
        f"errors {sum(errors.values())} {dict(errors)}"
    )
    if latencies:
        print(
            f"push latency p50 {statistics.median(latencies) * 1000:.0f} ms, "
            f"p99 {percentile(latencies, 0.99) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms"
        )
    print(f"final statuses {counts}; serve at the end: RSS {rss:.0f} MiB, {fds} fds; exit {code}")
    print(f"serve log: {serve.log}")
    all_complete = counts.get("COMPLETE", 0) == len(ids)
    return 0 if all_complete and not errors else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60.0)
    raise SystemExit(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
