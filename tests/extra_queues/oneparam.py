"""A handler that takes only the message (no ctx)."""

from typing import Any


async def handle(message: Any) -> Any:
    return {"got": message}
