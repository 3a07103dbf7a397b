"""Reports progress in a tight loop from a sync handler's thread.

Message ``{"reports": N}``: calls ``ctx.progress(i / N)`` N times, then
``ctx.progress(1.0, note="done")``, and returns ``{"seconds": S}``: how long the loop took.
"""

import time
from typing import Any

from conveyor import Context


def handle(message: dict[str, Any], ctx: Context) -> dict[str, Any]:
    count = int(message["reports"])
    started = time.monotonic()
    for i in range(count):
        ctx.progress(i / count)
    ctx.progress(1.0, note="done")
    return {"seconds": time.monotonic() - started}
