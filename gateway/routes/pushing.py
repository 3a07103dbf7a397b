"""What the push views share."""

from __future__ import annotations


def location(queue: str, message_id: str) -> str:
    """The ``Location`` of a message."""
    return f"/{queue}/{message_id}"
