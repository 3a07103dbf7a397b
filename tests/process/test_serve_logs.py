"""The log of a real ``conveyor serve``: ``--log-format json`` and text, the access log on and
off, request ids from the push to the handler's lines, a forged path logged as one
escaped line, and a failed run's traceback in its end line's JSON object."""

from __future__ import annotations

import json
import signal
import socket
import time
import urllib.request
from pathlib import Path

import jwt
import pytest

from tests.support.processes import clean_env
from tests.support.queues import add_queue
from tests.support.serve import ServeProcess

SECRET = "logging-test-secret-" + "s" * 40


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


@pytest.mark.slow
def test_the_start_line_names_the_dashboard_and_the_api_docs(
    tmp_path: Path, queues_dir: Path
) -> None:
    proc = ServeProcess([], serve_env(tmp_path, queues_dir), tmp_path / "serve.log")
    try:
        proc.wait_healthy()
    finally:
        proc.close()
    [line] = [line for line in proc.log().splitlines() if "gateway listening on" in line]
    base = f"http://127.0.0.1:{proc.port}"
    assert f"{base}/ " in line and f"{base}/ui" in line and f"{base}/docs" in line, line


def test_a_failed_run_logs_its_traceback_in_one_json_object(
    tmp_path: Path, queues_dir: Path
) -> None:
    add_queue(queues_dir, "nested", handler="nestedfail", roles={"roles": ["tester"]})
    env = serve_env(tmp_path, queues_dir, CONVEYOR_LOG_FORMAT="json")
    proc = ServeProcess([], env, tmp_path / "serve.log")
    try:
        proc.wait_healthy()
        message_id = push_and_wait_done(proc, "nested", b'{"depth": 2}', "json-fail-1")
    finally:
        proc.close()
    lines = [json.loads(line) for line in proc.log().splitlines() if line.strip()]
    [ended] = [line for line in lines if line.get("outcome") and line["message_id"] == message_id]
    assert (ended["level"], ended["logger"], ended["queue"]) == (
        "ERROR",
        "consumer.completion",
        "nested",
    )
    assert (ended["outcome"], ended["error_type"], ended["request_id"]) == (
        "ERROR",
        "KeyError",
        "json-fail-1",
    )
    assert "outcome=ERROR" in ended["message"] and ended["message"].endswith(" error=KeyError")
    trace = ended["exception"]
    assert trace.startswith("Traceback (most recent call last):\n")
    assert 'nested.py", line ' in trace and trace.endswith("KeyError: 'missing_key'\n")
    assert not [line for line in lines if "Traceback" in line["message"]]  # nowhere else
