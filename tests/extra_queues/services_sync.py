"""A ``services.py`` with a plain ``create_services()``."""

from typing import Any


class Greeter:
    def __init__(self, greeting: str) -> None:
        self.greeting = greeting

    def greet(self, name: str) -> str:
        return f"{self.greeting}, {name}!"


def create_services() -> dict[str, Any]:
    return {"greeter": Greeter("Hello"), "answer": 42}
