"""Fails (ValueError) until attempt ``succeed_on``; then returns the attempt number."""

from typing import Any

from conveyor import Context


async def handle(message: dict[str, Any], ctx: Context) -> dict[str, Any]:
    if ctx.attempt < message["succeed_on"]:
        raise ValueError(f"attempt {ctx.attempt} fails")
    return {"attempt": ctx.attempt}
