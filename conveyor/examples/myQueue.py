"""The original service's example handler: log the message, answer ``{"result": "value"}``."""

from __future__ import annotations

from typing import Any

from conveyor import Context


async def handle(message: dict[str, Any], ctx: Context) -> dict[str, Any]:
    """Return the seed's fixed result."""
    ctx.log.info("received %s", message)
    return {"result": "value"}
