"""Logging helpers: a logger bound to one message."""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any


class MessageLogger(logging.LoggerAdapter[logging.Logger]):
    """Prefixes every line with the message's id, queue and attempt, and puts them in
    ``extra`` (``message_id``, ``queue``, ``attempt``) for structured formatters."""

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        extra = self.extra or {}
        kwargs["extra"] = {**extra, **kwargs.get("extra", {})}
        prefix = f"[{extra.get('queue')} {extra.get('message_id')} attempt={extra.get('attempt')}]"
        return f"{prefix} {msg}", kwargs


def message_logger(queue: str, message_id: str, attempt: int) -> MessageLogger:
    """A logger named ``conveyor.handler.<queue>`` bound to one message."""
    return MessageLogger(
        logging.getLogger(f"conveyor.handler.{queue}"),
        {"message_id": message_id, "queue": queue, "attempt": attempt},
    )
