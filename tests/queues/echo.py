"""Returns the message and what ctx says about it."""

from typing import Any

from conveyor import Context


async def handle(message: dict[str, Any], ctx: Context) -> dict[str, Any]:
    return {"echo": message, "id": ctx.id, "queue": ctx.queue, "attempt": ctx.attempt}
