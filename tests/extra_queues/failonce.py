"""Fails until the file named by ``ok`` exists, then completes (for redrive tests)."""

from pathlib import Path
from typing import Any


def _exists(path: str) -> bool:
    return Path(path).exists()


async def handle(message: dict[str, Any], ctx: Any) -> dict[str, Any]:
    if not _exists(message["ok"]):
        raise RuntimeError("not yet")
    return {"n": message.get("n")}
