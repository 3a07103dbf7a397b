"""Returns something that is not JSON."""

from typing import Any


async def handle(message: Any, ctx: Any) -> Any:
    return {"when": object()}
