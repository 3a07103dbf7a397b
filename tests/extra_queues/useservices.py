"""Greets through ``ctx.services["greeter"]``."""

from typing import Any

from conveyor import Context


async def handle(message: dict[str, Any], ctx: Context) -> dict[str, Any]:
    return {
        "greeting": ctx.services["greeter"].greet(message["name"]),
        "answer": ctx.services["answer"],
        "services": sorted(ctx.services),
    }
