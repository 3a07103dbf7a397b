"""Kills the consumer process that runs it (a message that crashes consumers)."""

import os
from typing import Any


async def handle(message: Any, ctx: Any) -> Any:
    os._exit(17)
