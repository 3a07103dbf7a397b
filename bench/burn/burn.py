"""A handler that burns about 2 ms of CPU on the event loop (the `scale` benchmark)."""

import time
from typing import Any


async def handle(message: dict[str, Any], ctx: Any) -> dict[str, Any]:
    end = time.thread_time() + 0.002
    spins = 0
    while time.thread_time() < end:
        spins += 1
    return {"spins": spins}
