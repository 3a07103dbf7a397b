"""Auth is off for this queue."""

from typing import Any


async def handle(message: Any, ctx: Any) -> Any:
    return {"ok": True}
