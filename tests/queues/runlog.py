"""Appends "<message id> <pid> <attempt>" to the file named by ``log`` (one line per run),
so tests can count how often, and in which process, each message ran."""

import asyncio
import os
from typing import Any


def _append(path: str, line: str) -> None:
    with open(path, "a") as fh:
        fh.write(line)


async def handle(message: dict[str, Any], ctx: Any) -> dict[str, Any]:
    line = f"{ctx.id} {os.getpid()} {ctx.attempt}\n"
    await asyncio.to_thread(_append, message["log"], line)
    await asyncio.sleep(float(message.get("seconds", 0)))
    return {"pid": os.getpid()}
