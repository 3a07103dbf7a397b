"""A handler that does nothing but answer, so the benchmark measures Conveyor itself."""

from typing import Any


async def handle(message: dict[str, Any], ctx: Any) -> dict[str, Any]:
    return {"n": message.get("n")}
