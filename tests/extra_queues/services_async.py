"""A ``services.py`` with an async ``create_services()``."""

import asyncio
from typing import Any


class Greeter:
    def __init__(self, greeting: str) -> None:
        self.greeting = greeting

    def greet(self, name: str) -> str:
        return f"{self.greeting}, {name}!"


async def create_services() -> dict[str, Any]:
    await asyncio.sleep(0)
    return {"greeter": Greeter("Bonjour"), "answer": 43}
