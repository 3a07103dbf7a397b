"""Where the time goes: py-spy on a Conveyor process under wrk load, summarised as text.

    python -m bench.profile push            # serve --broker, single pushes (64 connections)
    python -m bench.profile e2e-embedded    # serve, single pushes, handler running alongside
    python -m bench.profile e2e-shared      # gateway + 1 consumer: both processes sampled
    python -m bench.profile waiters         # serve with 10,000 open GET ?wait=30, pushes
    python -m bench.profile observed-embedded  # serve, 64 clients: POST then GET ?wait=30
    python -m bench.profile observed-shared    # the same on gateway + 1 consumer

Starts the topology, drives it with wrk (``observed-*``: ``bench.observed``'s clients) for
``--seconds`` while ``py-spy record --idle --threads --format raw`` samples each process
(needs py-spy: ``pip install -e '.[bench]'``, and ptrace rights), then prints per process
and thread: the share of samples in each area (inclusive: a sample counts for every area on
its stack) and the functions with the most self time (in an executor thread, self time in
``_worker (thread.py)`` is waiting for work).
Raw stacks are kept beside ``--out`` for a flame graph (``inferno``/speedscope).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import re
import sys
import tempfile
from pathlib import Path

from bench import wrk
from bench.common import BODY, HERE, Keys, Proc
from bench.topology import Topology

#: Areas by frame file (first match wins per frame); a sample counts once per area.
AREAS = (
    ("idle: waiting in epoll (selectors)", re.compile(r"selectors\.py|\(select\)|epoll")),
    ("sqlite (sqlite3 calls)", re.compile(r"sqlite3|adapters/sqlite/")),
    ("aiohttp request handling", re.compile(r"aiohttp/web_|aiohttp/http_")),
    (
        "auth (token check, cache, PyJWT)",
        re.compile(r"shared/auth\.py|gateway/auth/|token_cache|/jwt/"),
    ),
    ("schema validation (jsonschema)", re.compile(r"jsonschema|shared/domain/payloads\.py")),
    ("JSON codec", re.compile(r"orjson|json/(de|en)coder|adapters/record_fields")),
    ("RabbitMQ client (aio-pika, aiormq, pamqp)", re.compile(r"aio_pika|aiormq|pamqp")),
    ("metrics (prometheus_client)", re.compile(r"prometheus_client|shared/platform/metrics")),
    ("logging", re.compile(r"/logging/")),
    ("messaging service", re.compile(r"shared/service/")),
    ("consumer (claim, run, finish)", re.compile(r"consumer/")),
)
TARGETS = ("push", "e2e-embedded", "e2e-shared", "waiters", "observed-embedded", "observed-shared")
PY_SPY = Path(sys.executable).parent / "py-spy"
FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^:]*)(?::\d+)?\)$")


def summarise(raw: Path, title: str, top: int = 15) -> str:
    """Text summary of a py-spy raw (collapsed stacks) file."""
    threads: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    selfs: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    totals: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = stack.split(";")
        thread = frames[0] if frames[0].startswith(("thread", "process")) else "main"
        thread = re.sub(r"\s*\(0x[0-9a-f]+\)|process \d+:\"[^\"]*\";?", "", thread) or "main"
        totals[thread] += count
        seen = {name for name, rx in AREAS for frame in frames[1:] if rx.search(frame)}
        for name in seen:
            threads[thread][name] += count
        leaf = FRAME.match(frames[-1])
        where = f"{leaf['func']} ({Path(leaf['file']).name})" if leaf else frames[-1]
        selfs[thread][where] += count
    lines = [f"### {title}"]
    for thread, total in totals.most_common():
        if total < 0.05 * sum(totals.values()):
            continue
        lines.append(f"\n{thread}: {total} samples")
        for name, _rx in AREAS:
            if threads[thread][name]:
                lines.append(f"  {100 * threads[thread][name] / total:5.1f} %  {name}")
        lines.append("  self time:")
        for where, count in selfs[thread].most_common(top):
            lines.append(f"  {100 * count / total:5.1f} %  {where}")
    return "\n".join(lines)


async def profile(target: str, seconds: float, out: Path) -> str:
    tmp = Path(tempfile.mkdtemp(prefix="conveyor-profile-"))
    keys = Keys(tmp)
    name = {"push": "broker", "e2e-embedded": "embedded", "e2e-shared": "shared-1"}
    name |= {"observed-embedded": "embedded", "observed-shared": "shared-1"}
    async with Topology(name.get(target, "embedded"), keys) as topo:
        await topo.wait_consumers("bench")
        if not target.startswith("observed"):  # those clients warm up on their own
            await asyncio.to_thread(wrk.run_wrk, topo.base, "/bench", keys.tokens, BODY, duration=2)
        writers = await _waiters(topo, keys) if target == "waiters" else []
        spies: list[tuple[str, Path, Proc]] = []
        for n, proc in enumerate(topo.procs):
            label = f"{target}-{'server' if n == 0 else f'consumer{n}'}"
            raw = out.with_name(f"{out.stem}-{label}.txt")
            args = ["record", "--idle", "--threads", "--format", "raw", "--rate", "200"]
            args += ["--duration", str(int(seconds)), "--pid", str(proc.pid), "--output", str(raw)]
            spy = Proc(args, tmp / f"{label}.log", program=[str(PY_SPY)])
            spies.append((label, raw, spy))
        if target.startswith("observed"):
            summary = await _observed(topo, keys, seconds, [spy for _l, _r, spy in spies])
        else:
            result = await asyncio.to_thread(
                wrk.run_wrk, topo.base, "/bench", keys.tokens, BODY, duration=seconds
            )
            summary = f"wrk: {result['rate']:.0f} req/s (p50 {result['p50_us'] / 1000:.1f} ms)"
        for _label, _raw, spy in spies:
            await asyncio.to_thread(spy.popen.wait, seconds + 30)
            spy.stop()
        for writer in writers:
            writer.close()
    texts = [summary]
    texts += [summarise(raw, label) for label, raw, _spy in spies if raw.exists()]
    return "\n\n".join(texts)


async def _waiters(topo: Topology, keys: Keys, count: int = 10_000) -> list[asyncio.StreamWriter]:
    """``count`` delayed messages, each with an open ``GET ?wait=30`` (as ``memory`` does)."""
    from bench.runs_more import _open_waiters, _pending_ids
    from bench.runs_throughput import BATCH, FILL

    await asyncio.to_thread(
        wrk.run_wrk, topo.base, "/bench/batch?delay=3600", keys.tokens, [BODY] * BATCH,
        quota=count // BATCH, expect=207, **FILL,
    )  # fmt: skip
    writers = await _open_waiters(topo.base, _pending_ids(topo.db)[:count], keys.tokens)
    await asyncio.sleep(2)
    return writers


async def _observed(topo: Topology, keys: Keys, seconds: float, spies: list[Proc]) -> str:
    """``bench.observed``'s clients (POST, then GET ?wait=30 until final) until the spies end."""
    from bench.observed import CLIENTS, _start_clients

    clients = await _start_clients(topo, keys.tokens, 1_000_000, CLIENTS, 1)
    for proc in clients:
        assert proc.stdin is not None
        proc.stdin.write(b"GO\n")
        await proc.stdin.drain()
    for spy in spies:
        await asyncio.to_thread(spy.popen.wait, seconds + 30)
    for proc in clients:
        proc.terminate()
        await proc.wait()
    return f"observed clients: {CLIENTS}, POST then GET ?wait=30 until final"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("target", choices=(*TARGETS,))
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "profile")
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if not PY_SPY.exists():
        raise SystemExit("py-spy is missing: pip install -e '.[bench]'")
    print(asyncio.run(profile(args.target, args.seconds, args.out)))


if __name__ == "__main__":
    main()
