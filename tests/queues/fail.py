"""Always raises."""

from typing import Any


class Boom(Exception):
    pass


async def handle(message: Any, ctx: Any) -> Any:
    raise Boom(f"exploded on {message!r}")
