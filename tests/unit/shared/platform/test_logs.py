"""Log lines (``shared.platform.logs``): JSON lines carry the handler's extras as fields, text
lines are prefixed with queue, id and attempt, and neither can be forged with control
characters; the access log setting."""

from __future__ import annotations

import io
import json
import logging

from conveyor.cli import build_parser
from shared.platform.logs import JsonFormatter, message_logger, text_formatter
from shared.platform.settings import parse_settings


class Captured:
    """A handler on the ``conveyor.handler.q`` logger formatting with ``formatter``."""

    def __init__(self, formatter: logging.Formatter) -> None:
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(formatter)
        self.logger = logging.getLogger("conveyor.handler.q")

    def __enter__(self) -> Captured:
        self.logger.addHandler(self.handler)
        self.logger.setLevel(logging.INFO)
        return self

    def __exit__(self, *exc: object) -> None:
        self.logger.removeHandler(self.handler)
        self.logger.setLevel(logging.NOTSET)

    def lines(self) -> list[str]:
        return self.stream.getvalue().splitlines()


def test_json_lines_carry_the_handler_extras_and_no_prefix() -> None:
    with Captured(JsonFormatter()) as captured:
        bound = message_logger("q", "m-1", 2, "r-9")
        bound.info("hello %s", "world", extra={"sku": "apple", "total": 42, "queue": "spoof"})
    [line] = captured.lines()
    assert json.loads(line) == {
        "timestamp": json.loads(line)["timestamp"],
        "level": "INFO",
        "logger": "conveyor.handler.q",
        "message": "hello world",  # no [q m-1 attempt=2] prefix: those are fields
        "message_id": "m-1",
        "queue": "q",  # the bound fields win over a handler's extra of the same name
        "attempt": 2,
        "request_id": "r-9",
        "sku": "apple",
        "total": 42,
    }
    assert json.loads(line)["timestamp"].startswith("20")
    plain = logging.LogRecord("x", logging.WARNING, __file__, 1, "no extras", None, None)
    assert set(json.loads(JsonFormatter().format(plain))) == {
        "timestamp",
        "level",
        "logger",
        "message",
    }


def test_text_lines_are_prefixed_with_queue_id_and_attempt() -> None:
    with Captured(text_formatter()) as captured:
        message_logger("q", "m-1", 2).info("hello %s", "world", extra={"sku": "apple"})
        logging.getLogger("conveyor.handler.q").info("not bound")
    bound, plain = captured.lines()
    assert bound.endswith(" INFO conveyor.handler.q: [q m-1 attempt=2] hello world"), bound
    assert plain.endswith(" INFO conveyor.handler.q: not bound"), plain


#: A value that would forge a record if written raw: a line break, then a fake record.
FORGED = "x\n2026-12-07 04:00:00,000 CRITICAL forged: admin logged in\u2028\x85\x1b[2K"


def test_text_lines_escape_control_characters_and_indent_tracebacks() -> None:
    with Captured(text_formatter()) as captured:
        log = logging.getLogger("conveyor.handler.q")
        log.info("path %s", FORGED)
        message_logger("q", "m-1", 2).info(FORGED)  # a handler logging a client's value
        try:
            raise ValueError(FORGED)
        except ValueError:
            log.exception("failed on %s", FORGED)
    text = captured.stream.getvalue()
    escaped = "x\\n2026-12-07 04:00:00,000 CRITICAL forged: admin logged in\\u2028\\x85\\x1b[2K"
    lines = text.split("\n")
    assert lines[0].endswith(f" INFO conveyor.handler.q: path {escaped}"), lines[0]
    assert lines[1].endswith(f" conveyor.handler.q: [q m-1 attempt=2] {escaped}"), lines[1]
    assert lines[2].endswith(f" ERROR conveyor.handler.q: failed on {escaped}"), lines[2]
    assert lines[3] == "  Traceback (most recent call last):"
    assert all(line.startswith("  ") for line in lines[3:] if line), lines  # the traceback
    assert "\x85" not in text and "\u2028" not in text and "\x1b" not in text
    assert not [line for line in text.splitlines() if line.startswith("2026-12-07 04:00")]


def test_json_lines_stay_one_object_per_line() -> None:
    with Captured(JsonFormatter()) as captured:
        message_logger("q", "m-1", 1).info("path %s", FORGED, extra={"header": FORGED})
    [line] = captured.stream.getvalue().splitlines()  # splitlines breaks at \x85 and \u2028 too
    document = json.loads(line)
    assert document["message"] == f"path {FORGED}" and document["header"] == FORGED


def test_access_log_flag_and_variable() -> None:
    assert parse_settings({}, environ={}).access_log is True
    assert parse_settings({}, environ={"CONVEYOR_ACCESS_LOG": "false"}).access_log is False
    assert parse_settings({"access_log": "false"}, environ={}).access_log is False
    args = vars(build_parser().parse_args(["serve", "--no-access-log"]))
    assert parse_settings(args, environ={"CONVEYOR_ACCESS_LOG": "true"}).access_log is False
    gateway = vars(build_parser().parse_args(["gateway", "--no-access-log"]))
    assert parse_settings(gateway, environ={}).access_log is False
