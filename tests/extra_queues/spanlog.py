"""Appends ``<id> <pid> start <t>`` when a run starts and ``<id> <pid> end|cancelled <t>``
when it stops (``t``: wall-clock seconds) to the file named by ``log``; sleeps ``seconds``.

Tests read the spans to prove a message never ran twice at the same time.
"""

import asyncio
import os
import time
from typing import Any


def _append(path: str, line: str) -> None:
    with open(path, "a") as fh:
        fh.write(line)


async def handle(message: dict[str, Any], ctx: Any) -> dict[str, Any]:
    log, me = message["log"], f"{ctx.id} {os.getpid()}"
    _append(log, f"{me} start {time.time()}\n")
    how = "cancelled"
    try:
        await asyncio.sleep(float(message.get("seconds", 0)))
        how = "end"
    finally:
        _append(log, f"{me} {how} {time.time()}\n")
    return {"pid": os.getpid()}
