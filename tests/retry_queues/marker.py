"""Fails unless the file ``marker`` exists; then returns the attempt number."""

from pathlib import Path
from typing import Any

from conveyor import Context


def handle(message: dict[str, Any], ctx: Context) -> dict[str, Any]:
    if not Path(message["marker"]).exists():
        raise FileNotFoundError("marker missing")
    return {"attempt": ctx.attempt}
