"""Sleeps ``sleep`` seconds (async), then returns."""

import asyncio
from typing import Any


async def handle(message: dict[str, Any]) -> dict[str, Any]:
    await asyncio.sleep(message["sleep"])
    return {"slept": message["sleep"]}
