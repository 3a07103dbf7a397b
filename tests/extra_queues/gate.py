"""Holds its message until the test releases it (async).

Message ``{"marker": PATH, "release": PATH, "done": PATH?}``: writes ``"<id> <attempt>"`` to
``marker`` when it starts, waits (at most 60 s) until ``release`` exists, then writes ``done``
(if given) and returns.
"""

import asyncio
from pathlib import Path
from typing import Any

from conveyor import Context


def _write(path: str, text: str) -> None:
    Path(path).write_text(text)


def _exists(path: str) -> bool:
    return Path(path).exists()


async def handle(message: dict[str, Any], ctx: Context) -> dict[str, Any]:
    _write(message["marker"], f"{ctx.id} {ctx.attempt}\n")
    for _ in range(3000):
        if _exists(message["release"]):
            break
        await asyncio.sleep(0.02)
    else:
        raise TimeoutError("the test never released this message")
    if message.get("done"):
        _write(message["done"], "done\n")
    return {"released": True, "attempt": ctx.attempt}
