"""Request ids (``X-Request-Id``) from the push to the record, the handler's ``ctx`` and
its log lines; ``--log-format json``."""

from __future__ import annotations

import io
import json
import logging
import signal
import socket
import time
import urllib.request
from pathlib import Path
from typing import Any

import jwt
import pytest

from conveyor.cli import build_parser
from shared.platform.logs import JsonFormatter, message_logger, text_formatter
from shared.platform.settings import parse_settings
from tests.support.api_client import Api, StartConveyor
from tests.support.processes import clean_env
from tests.support.queues import add_queue
from tests.support.responses import error_list
from tests.support.serve import ServeProcess

SECRET = "logging-test-secret-" + "s" * 40


async def test_request_id_round_trip(
    start_conveyor: StartConveyor, api_for: Any, queues_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    add_queue(queues_dir, "reqid", handler="reqid", roles={"roles": ["tester"]})
    api: Api = api_for(await start_conveyor())
    token = api.keys.token(["tester"])
    caplog.set_level(logging.INFO, logger="conveyor.handler.reqid")

    resp = await api.post("reqid", {"n": 1}, token, headers={"X-Request-Id": "trace-abc.123"})
    assert resp.status == 201, await resp.text()
    assert resp.headers["X-Request-Id"] == "trace-abc.123"
    record = await resp.json()
    assert record["request_id"] == "trace-abc.123"
    final = await api.wait_final("reqid", record["id"], token)
    assert final["status"] == "COMPLETE", final
    assert final["request_id"] == "trace-abc.123"
    assert final["result"] == {"request_id": "trace-abc.123"}  # ctx.request_id
    lines = [r for r in caplog.records if r.name == "conveyor.handler.reqid"]
    assert lines, "the handler logged nothing"
    assert all(getattr(r, "request_id", None) == "trace-abc.123" for r in lines)
    assert all(getattr(r, "message_id", None) == record["id"] for r in lines)


async def test_request_id_is_generated_when_absent_or_unusable(api: Api) -> None:
    token = api.keys.token(["tester"])
    plain = await api.post("echo", {"n": 1}, token)
    generated = plain.headers["X-Request-Id"]
    assert generated and (await plain.json())["request_id"] == generated
    again = await api.post("echo", {"n": 2}, token)
    assert again.headers["X-Request-Id"] != generated
    for bad in ("x" * 200, "has space", ""):
        resp = await api.post("echo", {"n": 3}, token, headers={"X-Request-Id": bad})
        assert resp.status == 201
        assert resp.headers["X-Request-Id"] not in (bad, "")
        assert (await resp.json())["request_id"] == resp.headers["X-Request-Id"]


async def test_request_id_header_on_errors_and_other_endpoints(api: Api) -> None:
    unauthorized = await api.post("echo", {"n": 1}, headers={"X-Request-Id": "err-1"})
    await error_list(unauthorized, 401)
    assert unauthorized.headers["X-Request-Id"] == "err-1"
    missing = await api.get("/echo/no-such-id", api.keys.token(["tester"]))
    await error_list(missing, 404)
    assert missing.headers["X-Request-Id"]
    assert (await api.get("/healthz")).headers["X-Request-Id"]


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


@pytest.mark.slow
def test_a_forged_path_is_one_escaped_line_in_the_served_log(
    tmp_path: Path, queues_dir: Path
) -> None:
    proc = ServeProcess([], serve_env(tmp_path, queues_dir), tmp_path / "serve.log")
    try:
        proc.wait_healthy()
        path = "/q/x%0A2026-12-07%2004:00:00,000%20CRITICAL%20forged:%20admin%20logged%20in/events"
        head = (
            f"GET {path} HTTP/1.1\r\nHost: t\r\nAccept: text/event-stream\r\n"
            f"Last-Event-ID: {'9' * 5000}\r\nX-Request-Id: forged-1\r\nConnection: close\r\n\r\n"
        )
        with socket.create_connection(("127.0.0.1", proc.port), timeout=10) as sock:
            sock.sendall(head.encode())  # raw: a client library would refuse the %0A path
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 4"), answer  # 401 (no token), never a 500
    finally:
        proc.close()
    log = proc.log()
    mentions = [line for line in log.splitlines() if "forged: admin logged in" in line]
    assert len(mentions) == 1, log
    assert "request_id=forged-1" in mentions[0] and "/q/x\\n2026-12-07" in mentions[0], log
    assert not [line for line in log.splitlines() if line.startswith("2026-12-07 04:00")], log
    assert "Traceback" not in log and " ERROR " not in log, log


async def test_access_log_line_per_request(
    start_conveyor: StartConveyor, api_for: Any, caplog: pytest.LogCaptureFixture
) -> None:
    api: Api = api_for(await start_conveyor())
    caplog.set_level(logging.INFO, logger="conveyor.access")
    token = api.keys.token(["tester"])
    resp = await api.post("echo", {"n": 1}, token, headers={"X-Request-Id": "access-1"})
    message_id = (await resp.json())["id"]
    assert (await api.get(f"/echo/{message_id}", token)).status == 200
    lines = [r for r in caplog.records if r.name == "conveyor.access"]
    assert [(r.levelno, r.getMessage().split()[:3]) for r in lines] == [
        (logging.INFO, ["POST", "/{queue}", "201"]),
        (logging.INFO, ["GET", "/{queue}/{id}", "200"]),
    ]
    first = lines[0]
    assert first.getMessage().endswith("ms request_id=access-1 path=/echo"), first.getMessage()
    fields = {k: getattr(first, k) for k in ("method", "route", "status", "request_id", "path")}
    assert fields == {
        "method": "POST",
        "route": "/{queue}",
        "status": 201,
        "request_id": "access-1",
        "path": "/echo",
    }
    assert lines[1].__dict__["path"] == f"/echo/{message_id}"
    duration = first.__dict__["duration_ms"]
    assert isinstance(duration, float) and duration >= 0
    assert lines[1].__dict__["request_id"] not in ("", "access-1")


async def test_no_access_log_setting(
    start_conveyor: StartConveyor, api_for: Any, caplog: pytest.LogCaptureFixture
) -> None:
    api: Api = api_for(await start_conveyor(access_log=False))
    caplog.set_level(logging.INFO)
    assert (await api.post("echo", {"n": 1}, api.keys.token(["tester"]))).status == 201
    assert (await api.get("/healthz")).status == 200
    assert not [r for r in caplog.records if r.name == "conveyor.access"]


def test_access_log_flag_and_variable() -> None:
    assert parse_settings({}, environ={}).access_log is True
    assert parse_settings({}, environ={"CONVEYOR_ACCESS_LOG": "false"}).access_log is False
    assert parse_settings({"access_log": "false"}, environ={}).access_log is False
    args = vars(build_parser().parse_args(["serve", "--no-access-log"]))
    assert parse_settings(args, environ={"CONVEYOR_ACCESS_LOG": "true"}).access_log is False
    gateway = vars(build_parser().parse_args(["gateway", "--no-access-log"]))
    assert parse_settings(gateway, environ={}).access_log is False


def push_and_wait_done(proc: ServeProcess, queue: str, body: bytes, request_id: str) -> str:
    """POST ``body`` to ``queue`` of a real serve and wait for its run's end line; its id."""
    now = int(time.time())
    token = jwt.encode({"sub": "t", "roles": ["tester"], "exp": now + 300}, SECRET, "HS256")
    request = urllib.request.Request(
        f"{proc.url}/{queue}",
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {token}",
            "X-Request-Id": request_id,
        },
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        message_id = str(json.loads(resp.read())["id"])
    deadline = time.monotonic() + 20
    while "outcome=" not in proc.log():
        assert time.monotonic() < deadline, proc.log()
        time.sleep(0.05)
    proc.proc.send_signal(signal.SIGTERM)
    assert proc.wait_exit(30) == 0, proc.log()
    return message_id


def serve_env(tmp_path: Path, queues_dir: Path, **extra: str) -> dict[str, str]:
    add_queue(queues_dir, "logextra", handler="logextra", roles={"roles": ["tester"]})
    return clean_env(
        CONVEYOR_JWT_SECRET=SECRET,
        CONVEYOR_HANDLERS=str(queues_dir),
        CONVEYOR_STORE=f"sqlite:///{tmp_path / 'conveyor.db'}",
        **extra,
    )


@pytest.mark.slow
def test_serve_log_format_json(tmp_path: Path, queues_dir: Path) -> None:
    env = serve_env(tmp_path, queues_dir, CONVEYOR_LOG_FORMAT="json", CONVEYOR_LOG_LEVEL="debug")
    proc = ServeProcess([], env, tmp_path / "serve.log")
    try:
        proc.wait_healthy()
        message_id = push_and_wait_done(proc, "logextra", b'{"sku": "apple"}', "json-log-1")
    finally:
        proc.close()
    lines = [json.loads(line) for line in proc.log().splitlines() if line.strip()]
    assert all({"timestamp", "level", "logger", "message"} <= set(line) for line in lines)
    mine = [line for line in lines if line.get("message_id") == message_id]
    pushed = [line for line in mine if line["level"] == "DEBUG" and "pushed" in line["message"]]
    assert pushed and pushed[0]["request_id"] == "json-log-1"
    assert pushed[0]["queue"] == "logextra"
    done = [line for line in mine if line.get("outcome") == "COMPLETE"]
    assert done and done[0]["attempt"] == 1 and done[0]["request_id"] == "json-log-1"
    assert isinstance(done[0]["duration_ms"], float)
    [handler] = [line for line in lines if line["logger"] == "conveyor.handler.logextra"]
    assert handler["message"] == "priced apple"  # no [queue id attempt] prefix
    assert (handler["sku"], handler["total"], handler["message_id"]) == ("apple", 42, message_id)
    assert (handler["queue"], handler["attempt"], handler["request_id"]) == (
        "logextra",
        1,
        "json-log-1",
    )
    access = [line for line in lines if line["logger"] == "conveyor.access"]
    [post] = [line for line in access if line["request_id"] == "json-log-1"]
    assert (post["level"], post["method"], post["route"], post["status"]) == (
        "INFO",
        "POST",
        "/{queue}",
        201,
    )
    assert isinstance(post["duration_ms"], float)
    assert any(line["route"] == "/healthz" for line in access)  # wait_healthy's requests


@pytest.mark.slow
def test_serve_text_log_with_no_access_log(tmp_path: Path, queues_dir: Path) -> None:
    env = serve_env(tmp_path, queues_dir)
    proc = ServeProcess(["--no-access-log"], env, tmp_path / "serve.log")
    try:
        proc.wait_healthy()
        message_id = push_and_wait_done(proc, "logextra", b'{"sku": "pear"}', "text-log-1")
    finally:
        proc.close()
    log = proc.log()
    assert f"conveyor.handler.logextra: [logextra {message_id} attempt=1] priced pear" in log
    assert "conveyor.access" not in log, log
