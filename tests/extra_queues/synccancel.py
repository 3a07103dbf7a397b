"""A plain (blocking) ``def`` handler for the cancellation tests.

Message ``{"marker": PATH, "cleanup": PATH}``: writes ``"<id>"`` to ``marker``, waits (at
most 60 s, in its thread) for ``ctx.cancelled`` and writes whether it was set to ``cleanup``.
With ``"release": PATH, "done": PATH`` instead it ignores the flag: it blocks until
``release`` exists, writes ``done`` and returns (a result Conveyor must discard once the
message was cancelled).
"""

import time
from pathlib import Path
from typing import Any

from conveyor import Context


def handle(message: dict[str, Any], ctx: Context) -> dict[str, Any]:
    Path(message["marker"]).write_text(f"{ctx.id}\n")
    if "release" in message:
        deadline = time.monotonic() + 60
        while not Path(message["release"]).exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        Path(message["done"]).write_text("ran on\n")
        return {"ran": "on"}
    seen = ctx.cancelled.wait_sync(60)
    Path(message["cleanup"]).write_text(f"{seen} {ctx.cancelled.is_set()}\n")
    return {"stopped": seen}
