"""Acknowledges the scheduled report."""

from typing import Any


async def handle(message: Any, ctx: Any) -> Any:
    return {"ok": True}
