"""Logs one line through ``ctx.log`` with ``extra`` fields of its own."""

from typing import Any

from conveyor import Context


async def handle(message: dict[str, Any], ctx: Context) -> dict[str, Any]:
    ctx.log.info("priced %s", message["sku"], extra={"sku": message["sku"], "total": 42})
    return {"ok": True}
