"""Holds its message as told (async), for the ``?wait=`` and listing tests.

Message ``{"release": PATH?, "seconds": N?, "fail": bool?}``: waits (at most 60 s) until
``release`` exists, sleeps ``seconds``, then raises if ``fail`` and returns otherwise.
"""

import asyncio
from pathlib import Path
from typing import Any


def _exists(path: str) -> bool:
    return Path(path).exists()


async def handle(message: dict[str, Any], ctx: Any) -> dict[str, Any]:
    release = message.get("release")
    if release:
        for _ in range(3000):
            if _exists(release):
                break
            await asyncio.sleep(0.02)
    await asyncio.sleep(float(message.get("seconds", 0)))
    if message.get("fail"):
        raise RuntimeError("asked to fail")
    return {"done": True, "id": ctx.id}
