"""Appends the time of each run to ``log``; on attempt 1 raises Retry(delay=``delay``) (sync)."""

import time
from pathlib import Path
from typing import Any

from conveyor import Context, Retry


def handle(message: dict[str, Any], ctx: Context) -> dict[str, Any]:
    with Path(message["log"]).open("a") as fh:
        fh.write(f"{time.time()}\n")
    if ctx.attempt == 1:
        raise Retry("not yet", delay=message["delay"])
    return {"attempt": ctx.attempt}
