"""A plain def returning None: the result is JSON null."""

from typing import Any


def handle(message: Any, ctx: Any) -> None:
    return None
