"""Logging helpers: a logger bound to one message, and the ``--log-format json`` formatter."""

from __future__ import annotations

import json
import logging
from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import Any

#: ``extra`` fields a JSON log line carries when the record has them.
STRUCTURED_FIELDS = ("message_id", "queue", "attempt", "request_id", "outcome", "duration_ms")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``timestamp`` (ISO-8601 UTC), ``level``, ``logger``,
    ``message``, the :data:`STRUCTURED_FIELDS` present, and ``exception`` when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in STRUCTURED_FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


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


def message_logger(
    queue: str, message_id: str, attempt: int, request_id: str | None = None
) -> MessageLogger:
    """A logger named ``conveyor.handler.<queue>`` bound to one message (and to the id of
    the HTTP request that pushed it, as ``request_id``, when known)."""
    extra: dict[str, Any] = {"message_id": message_id, "queue": queue, "attempt": attempt}
    if request_id is not None:
        extra["request_id"] = request_id
    return MessageLogger(logging.getLogger(f"conveyor.handler.{queue}"), extra)
