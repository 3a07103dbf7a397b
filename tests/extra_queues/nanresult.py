"""Returns a float JSON cannot carry."""

from typing import Any


async def handle(message: Any, ctx: Any) -> Any:
    return {"ratio": float("nan")}
