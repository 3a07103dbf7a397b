"""Like ``gate`` but a plain (blocking) def: it blocks its thread until released."""

import threading
import time
from pathlib import Path
from typing import Any

from conveyor import Context


def handle(message: dict[str, Any], ctx: Context) -> dict[str, Any]:
    Path(message["marker"]).write_text(f"{ctx.id} {ctx.attempt}\n")
    deadline = time.monotonic() + 60
    while not Path(message["release"]).exists():
        if time.monotonic() > deadline:
            raise TimeoutError("the test never released this message")
        time.sleep(0.02)
    return {"thread": threading.current_thread().name, "main": threading.main_thread().name}
