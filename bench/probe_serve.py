"""Run ``conveyor ARGS`` (e.g. ``serve ...``) and, every ``BENCH_PROBE_SECONDS`` (5),
append ``<unix time> <asyncio tasks>`` to the file ``BENCH_PROBE_FILE``.

For bench/soak.py: the number of asyncio tasks is only visible from inside the process, and
this counts them without changing Conveyor (a recurring callback on the event loop that
``asyncio.run`` creates, installed through the event loop policy).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time

from conveyor.cli import main

PROBE_FILE = os.environ["BENCH_PROBE_FILE"]
EVERY = float(os.environ.get("BENCH_PROBE_SECONDS", "5"))


def _sample(loop: asyncio.AbstractEventLoop) -> None:
    with open(PROBE_FILE, "a") as out:
        out.write(f"{time.time():.3f} {len(asyncio.all_tasks(loop))}\n")
    loop.call_later(EVERY, _sample, loop)


class ProbedPolicy(asyncio.DefaultEventLoopPolicy):
    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        loop = super().new_event_loop()
        loop.call_soon(_sample, loop)
        return loop


if __name__ == "__main__":
    asyncio.set_event_loop_policy(ProbedPolicy())
    sys.exit(main(sys.argv[1:]))
