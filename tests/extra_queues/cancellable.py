"""Runs until it is cancelled (async), for the cancellation tests.

Message ``{"marker": PATH, "cleanup": PATH, "swallow": bool?}``: writes ``"<id>"`` to
``marker`` when it starts and sleeps up to 60 s; its ``finally`` block writes whether
``ctx.cancelled`` was set to ``cleanup``. With ``swallow`` it catches the ``CancelledError``
and returns a result, which Conveyor must discard (the message ends CANCELLED all the same).
"""

import asyncio
from pathlib import Path
from typing import Any

from conveyor import Context


def _write(path: str, text: str) -> None:
    Path(path).write_text(text)


async def handle(message: dict[str, Any], ctx: Context) -> dict[str, Any]:
    _write(message["marker"], f"{ctx.id}\n")
    try:
        await asyncio.sleep(60)
    except asyncio.CancelledError:
        if message.get("swallow"):
            return {"swallowed": True}
        raise
    finally:
        _write(message["cleanup"], f"{ctx.cancelled.is_set()}\n")
    return {"slept": True}
