"""Request ids (``X-Request-Id``) from the push to the record, the handler's ``ctx`` and
its log lines; ``--log-format json``."""

from __future__ import annotations

import json
import logging
import signal
import time
import urllib.request
from pathlib import Path
from typing import Any

import jwt
import pytest

from shared.logs import JsonFormatter, message_logger
from tests.conftest import Api, StartConveyor
from tests.helpers import (
    ServeProcess,
    add_queue,
    clean_env,
    error_list,
    wait_until_sync,
)

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


def test_json_formatter_writes_one_object_with_the_extras() -> None:
    logger = message_logger("q", "m-1", 2, "r-9")
    record = logger.logger.makeRecord(
        "conveyor.handler.q", logging.INFO, __file__, 1, "hello %s", ("world",), None
    )
    _, kwargs = logger.process("hello", {})
    for key, val in kwargs["extra"].items():
        setattr(record, key, val)
    line = JsonFormatter().format(record)
    assert "\n" not in line
    data = json.loads(line)
    assert data["level"] == "INFO" and data["logger"] == "conveyor.handler.q"
    assert data["message"] == "hello world"
    assert (data["message_id"], data["queue"], data["attempt"]) == ("m-1", "q", 2)
    assert data["request_id"] == "r-9"
    assert data["timestamp"].startswith("20")
    plain = logging.LogRecord("x", logging.WARNING, __file__, 1, "no extras", None, None)
    assert set(json.loads(JsonFormatter().format(plain))) == {
        "timestamp",
        "level",
        "logger",
        "message",
    }


@pytest.mark.slow
def test_serve_log_format_json(tmp_path: Path, queues_dir: Path) -> None:
    env = clean_env(
        CONVEYOR_JWT_SECRET=SECRET,
        CONVEYOR_HANDLERS=str(queues_dir),
        CONVEYOR_STORE=f"sqlite:///{tmp_path / 'conveyor.db'}",
        CONVEYOR_LOG_FORMAT="json",
        CONVEYOR_LOG_LEVEL="debug",
    )
    proc = ServeProcess([], env, tmp_path / "serve.log")
    try:
        proc.wait_healthy()
        now = int(time.time())
        token = jwt.encode({"sub": "t", "roles": ["tester"], "exp": now + 300}, SECRET, "HS256")
        request = urllib.request.Request(
            f"{proc.url}/echo",
            data=b'{"n": 1}',
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {token}",
                "X-Request-Id": "json-log-1",
            },
        )
        with urllib.request.urlopen(request, timeout=10) as resp:
            message_id = json.loads(resp.read())["id"]
        wait_until_sync(
            lambda: "outcome=" in proc.log(), "the outcome to be logged", detail=proc.log
        )
        proc.proc.send_signal(signal.SIGTERM)
        assert proc.wait_exit(30) == 0, proc.log()
    finally:
        proc.close()
    lines = [json.loads(line) for line in proc.log().splitlines() if line.strip()]
    assert all({"timestamp", "level", "logger", "message"} <= set(line) for line in lines)
    mine = [line for line in lines if line.get("message_id") == message_id]
    pushed = [line for line in mine if line["level"] == "DEBUG" and "pushed" in line["message"]]
    assert pushed and pushed[0]["request_id"] == "json-log-1"
    assert pushed[0]["queue"] == "echo"
    done = [line for line in mine if line.get("outcome") == "COMPLETE"]
    assert done and done[0]["attempt"] == 1 and done[0]["request_id"] == "json-log-1"
    assert isinstance(done[0]["duration_ms"], float)
