"""Fails with MarkerMissing until the file ``message["marker"]`` exists."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class MarkerMissing(Exception):
    """The file the message names is not there yet."""


def handle(message: dict[str, Any], ctx: Any) -> dict[str, Any]:
    marker = Path(message["marker"])
    if not marker.exists():
        raise MarkerMissing(f"{marker.name} is missing")
    report = getattr(ctx, "progress", None)  # where the gateway records progress
    if report is not None:
        report(0.5, "halfway")
    return {"fixed": True, "note": message.get("note")}
