"""The chaos harness's handler (copied into the run's handlers directory as ``chaoslog.py``).

Each run appends two lines to the file named by ``log``: ``<id> <pid> <start> -`` when it
starts and ``<id> <pid> <start> <end> [cancelled]`` when it stops (wall-clock seconds), then
answers after sleeping ``seconds``. A run killed with ``kill -9`` leaves only its first line;
the harness knows when it killed which process. Lines are single ``write`` calls on a file
opened for appending, so lines of concurrent processes never interleave.
"""

import asyncio
import os
import time
from typing import Any


def _append(path: str, line: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


async def handle(message: dict[str, Any], ctx: Any) -> dict[str, Any]:
    log, start = message["log"], time.time()
    me = f"{ctx.id} {os.getpid()} {start:.6f}"
    _append(log, f"{me} -\n")
    suffix = " cancelled"
    try:
        await asyncio.sleep(float(message.get("seconds", 0)))
        suffix = ""
    finally:
        _append(log, f"{me} {time.time():.6f}{suffix}\n")
    return {"pid": os.getpid()}
