"""Sleeps ``sleep`` seconds in its thread (a sync handler), then returns."""

import time
from typing import Any


def handle(message: dict[str, Any]) -> dict[str, Any]:
    time.sleep(message["sleep"])
    return {"slept": message["sleep"]}
