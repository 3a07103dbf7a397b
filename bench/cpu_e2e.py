"""CPU per message at saturation, split by thread: ``python -m bench.cpu_e2e``.

``python -m bench.cpu_e2e [--topology embedded|broker] [--messages N] [--rounds K]`` starts
the topology as ``e2e`` does (``bench.topology``), pushes N messages flat out with wrk (64
connections), waits until every one is final, and reports the end-to-end rate and the
serving process's CPU microseconds per message on its event-loop thread (``main``) and on
its other threads (the SQLite store's thread, executors). At saturation the event loop is
the bottleneck, so ``main`` predicts the rate, and ``threads`` shows work done beside it
(which still costs the loop when it holds the GIL). Alternate rounds between two checkouts
for an A/B: the split moves much less between runs than the rate does.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from pathlib import Path

from bench import wrk
from bench.common import BODY, Keys, cpu_by_thread, last_final, wait_drained
from bench.topology import Topology


async def one_round(topology: str, messages: int) -> dict[str, float]:
    """One fresh topology, ``messages`` pushed flat out: rate and CPU us/msg by thread."""
    keys = Keys(Path(tempfile.mkdtemp(prefix="conveyor-cpu-e2e-")))
    async with Topology(topology, keys) as topo:
        await topo.wait_consumers("bench")
        pid = topo.procs[0].pid
        before = cpu_by_thread(pid)
        result = await asyncio.to_thread(
            wrk.run_wrk, topo.base, "/bench", keys.tokens, BODY,
            quota=messages, expect=201, connections=64,
        )  # fmt: skip
        await wait_drained(topo.db, topo.procs)
        after = cpu_by_thread(pid)
        _first, last, final = last_final(topo.db)
    per = {k: (after[k] - before[k]) / final * 1e6 for k in after}
    return {"rate": final / (last - result["started"]), **per}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--topology", default="embedded", choices=("embedded", "broker"))
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    opts = parser.parse_args()
    rounds = [asyncio.run(one_round(opts.topology, opts.messages)) for _ in range(opts.rounds)]
    for name, unit in (("rate", "msg/s"), ("main", "us/msg"), ("threads", "us/msg")):
        values = [r[name] for r in rounds]
        shown = ", ".join(f"{v:.0f}" for v in values)
        print(f"{name}: median {statistics.median(values):.0f} {unit} ({shown})")


if __name__ == "__main__":
    main()
