"""Sleeps ``seconds`` (async), optionally touching a marker file when it starts."""

import asyncio
from pathlib import Path
from typing import Any


async def handle(message: dict[str, Any], ctx: Any) -> dict[str, Any]:
    marker = message.get("marker")
    if marker:
        Path(marker).write_text(f"{ctx.id} {ctx.attempt}\n")  # noqa: ASYNC240 (tiny file)
    await asyncio.sleep(float(message.get("seconds", 1)))
    return {"slept": message.get("seconds", 1), "attempt": ctx.attempt}
