"""Takes every free file descriptor of its process until the test releases it (async).

Message ``{"marker": PATH, "release": PATH}``: writes ``marker``, opens ``/dev/null`` until
the open-file limit refuses (``EMFILE``), and until ``release`` exists (at most 60 s) takes
every descriptor freed meanwhile too (every 20 ms); then closes them all and returns how many
it held.
"""

import asyncio
import os
from pathlib import Path
from typing import Any


def _write(path: str) -> None:
    Path(path).write_text("holding\n")


def _exists(path: str) -> bool:
    return os.path.exists(path)  # stat: needs no descriptor


def _take_every_descriptor() -> list[int]:
    held: list[int] = []
    while True:
        try:
            held.append(os.open(os.devnull, os.O_RDONLY))
        except OSError:
            return held


async def handle(message: dict[str, Any], ctx: Any) -> dict[str, Any]:
    _write(message["marker"])
    held = _take_every_descriptor()  # no await: nothing else in the process runs meanwhile
    try:
        for _ in range(3000):
            if _exists(message["release"]):
                break
            await asyncio.sleep(0.02)
            held += _take_every_descriptor()  # e.g. one a closed connection gave back
    finally:
        for fd in held:
            os.close(fd)
    return {"held": len(held)}
