"""A plain def that raises."""

from typing import Any


def handle(message: dict[str, Any], ctx: Any) -> Any:
    raise ValueError(f"cannot handle {message.get('n')}")
