"""Returns the request id the message carries, and logs a line through ``ctx.log``."""

from typing import Any

from conveyor import Context


async def handle(message: dict[str, Any], ctx: Context) -> dict[str, Any]:
    ctx.log.info("handling with request id %s", ctx.request_id)
    return {"request_id": ctx.request_id}
