"""Rejects every message (no retries)."""

from typing import Any

from conveyor import Reject


async def handle(message: dict[str, Any]) -> None:
    raise Reject("bad input")
