"""Reports a quarter done (where the gateway records progress), then waits (at most 60 s)
for the file ``message["marker"]`` before finishing."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any


async def handle(message: dict[str, Any], ctx: Any) -> dict[str, Any]:
    marker = Path(message["marker"])
    report = getattr(ctx, "progress", None)
    if report is not None:
        report(0.25, "started")
    for _ in range(1200):
        if marker.exists():
            break
        await asyncio.sleep(0.05)
    return {"done": marker.exists()}
