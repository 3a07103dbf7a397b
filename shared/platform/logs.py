"""Logging helpers: a logger bound to one message, and the two line formats.

``--log-format text`` (:func:`text_formatter`) writes ``time LEVEL logger: message``, with a
handler's lines prefixed by ``[queue message-id attempt=N] ``. ``--log-format json``
(:class:`JsonFormatter`) writes one object per line whose ``message`` is only the message:
the prefix's facts, and every other ``extra`` field, are top-level keys instead.

Neither format lets a logged value forge a line: paths, ids, header values and messages
often come from clients. The text format writes each record's line with every control
character escaped as Python's ``repr`` would (:func:`one_line`: C0 and C1 controls, DEL,
U+2028/U+2029, so ``\\n`` and ``\\x85`` too), and a traceback's lines each indented, so that no
line of a record starts like a new record. The JSON format escapes the line separators JSON
leaves raw (U+0085, U+2028, U+2029), so each object stays on one line for any line splitter.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import Any

#: The record attribute holding a handler line's text prefix (rendered by the text format
#: only; the JSON format has the fields themselves).
PREFIX = "conveyor_prefix"
#: The record attribute holding a traceback already formatted (a failed handler's, as the
#: record keeps it): both formats render it as they render an exception's traceback.
TRACEBACK = "conveyor_traceback"
#: Attributes every LogRecord has: anything else on a record came from ``extra``.
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


#: What :func:`one_line` escapes: C0 controls, DEL, C1 controls, the Unicode line and
#: paragraph separators.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
#: Indents each line of a traceback in the text format.
TRACEBACK_INDENT = "  "


def _escaped(match: re.Match[str]) -> str:
    return repr(match.group())[1:-1]


def one_line(text: str) -> str:
    """``text`` with every control character escaped as ``repr`` writes it (``\\n``,
    ``\\x1b``, ``\\u2028``): one line, whatever it holds. Printable text is returned as is
    (checked in C first: the common case costs next to nothing)."""
    return text if text.isprintable() else _CONTROL.sub(_escaped, text)


def _indented(block: str) -> str:
    return "\n".join(TRACEBACK_INDENT + one_line(line) for line in block.splitlines())


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: [prefix]message`` on one line (see the module docstring), then
    the traceback or stack, if any, each of its lines indented."""

    def format(self, record: logging.LogRecord) -> str:
        record.message = record.getMessage()
        prefix = getattr(record, PREFIX, "")
        line = one_line(
            f"{self.formatTime(record)} {record.levelname} {record.name}: {prefix}{record.message}"
        )
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        exc_text = record.exc_text or getattr(record, TRACEBACK, None)
        if exc_text:
            line += "\n" + _indented(exc_text)
        if record.stack_info:
            line += "\n" + _indented(self.formatStack(record.stack_info))
        return line


def text_formatter() -> logging.Formatter:
    """The ``--log-format text`` formatter."""
    return TextFormatter()


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``timestamp`` (ISO-8601 UTC), ``level``, ``logger``,
    ``message``, then every ``extra`` field that is not None as a top-level key (values that
    are not JSON become strings; an extra cannot replace the four above), and ``exception``
    when there is one (the record's exception's traceback, or :data:`TRACEBACK`)."""

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
            if name in _STANDARD or name in (PREFIX, TRACEBACK) or name in line or value is None:
                continue
            line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif getattr(record, TRACEBACK, None):
            line["exception"] = getattr(record, TRACEBACK)
        text = json.dumps(line, default=str, ensure_ascii=False)
        # Valid raw in JSON, but line breaks to str.splitlines and to JavaScript.
        return (
            text.replace("\x85", "\\u0085")
            .replace("\u2028", "\\u2028")
            .replace("\u2029", "\\u2029")
        )


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
