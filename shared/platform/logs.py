"""Logging helpers: a logger bound to one message, and the two line formats.

``--log-format text`` (:func:`text_formatter`) writes ``time LEVEL logger: message``, with a
handler's lines prefixed by ``[queue message-id attempt=N] ``. ``--log-format json``
(:class:`JsonFormatter`) writes one object per line whose ``message`` is only the message:
the prefix's facts, and every other ``extra`` field, are top-level keys instead.
"""

from __future__ import annotations

import json
import logging
from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import Any

#: The record attribute holding a handler line's text prefix (rendered by the text format
#: only; the JSON format has the fields themselves).
PREFIX = "conveyor_prefix"
#: Attributes every LogRecord has: anything else on a record came from ``extra``.
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def text_formatter() -> logging.Formatter:
    """The ``--log-format text`` formatter."""
    return logging.Formatter(
        f"%(asctime)s %(levelname)s %(name)s: %({PREFIX})s%(message)s", defaults={PREFIX: ""}
    )


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``timestamp`` (ISO-8601 UTC), ``level``, ``logger``,
    ``message``, then every ``extra`` field that is not None as a top-level key (values that
    are not JSON become strings; an extra cannot replace the four above), and ``exception``
    when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in record.__dict__.items():
            if name in _STANDARD or name == PREFIX or name in line or value is None:
                continue
            line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class MessageLogger(logging.LoggerAdapter[logging.Logger]):
    """Binds every line to one message: ``message_id``, ``queue``, ``attempt`` (and
    ``request_id``) in ``extra``, over any the caller passes, plus the text format's
    ``[queue id attempt=N]`` prefix (kept out of the message itself)."""

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        bound = self.extra or {}
        prefix = f"[{bound.get('queue')} {bound.get('message_id')} attempt={bound.get('attempt')}] "
        kwargs["extra"] = {**kwargs.get("extra", {}), **bound, PREFIX: prefix}
        return msg, kwargs


def message_logger(
    queue: str, message_id: str, attempt: int, request_id: str | None = None
) -> MessageLogger:
    """A logger named ``conveyor.handler.<queue>`` bound to one message (and to the id of
    the HTTP request that pushed it, as ``request_id``, when known)."""
    extra: dict[str, Any] = {"message_id": message_id, "queue": queue, "attempt": attempt}
    if request_id is not None:
        extra["request_id"] = request_id
    return MessageLogger(logging.getLogger(f"conveyor.handler.{queue}"), extra)
