"""Hot reload test handler, version 2 (copied over ``<queue>.py`` by tests/test_reload.py).

Message ``{"marker": PATH?, "release": PATH?}``: with a marker, writes it when it starts and
waits (at most 60 s) until ``release`` exists. Returns ``{"version": VERSION}``.
"""

import asyncio
from pathlib import Path
from typing import Any

VERSION = 2


async def handle(message: dict[str, Any], ctx: Any) -> dict[str, Any]:
    marker, release = message.get("marker"), message.get("release")
    if marker and release:
        Path(marker).write_text(f"{ctx.id}\n")  # noqa: ASYNC240 (tiny file)
        for _ in range(3000):
            if Path(release).exists():  # noqa: ASYNC240
                break
            await asyncio.sleep(0.02)
        else:
            raise TimeoutError("the test never released this message")
    return {"version": VERSION}
