"""Returns ``ctx.messaging.schedules(message["queue"])``: what a handler sees of a queue's cron
schedules."""

from typing import Any

from conveyor import Context


async def handle(message: dict[str, Any], ctx: Context) -> dict[str, Any]:
    return {"schedules": await ctx.messaging.schedules(message["queue"])}
