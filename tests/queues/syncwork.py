"""A plain (blocking) def: runs in a worker thread, so it must not block the event loop."""

import threading
import time
from typing import Any


def handle(message: dict[str, Any], ctx: Any) -> dict[str, Any]:
    time.sleep(float(message.get("seconds", 0)))
    return {"thread": threading.current_thread().name, "main": threading.main_thread().name}
