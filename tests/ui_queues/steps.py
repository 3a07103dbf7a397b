"""Reports a quarter done (where the gateway records progress), then waits (at most 60 s)
for the file ``message["marker"]`` before finishing. Sync: it runs in a worker thread."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any


def handle(message: dict[str, Any], ctx: Any) -> dict[str, Any]:
    marker = Path(message["marker"])
    report = getattr(ctx, "progress", None)
    if report is not None:
        report(0.25, "started")
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return {"done": marker.exists()}
