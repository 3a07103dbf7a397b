"""Request ids (``X-Request-Id``) from the push to the record and the handler's ``ctx``; the
access log's line per request, and the setting that turns it off. The log lines themselves:
tests/unit/shared/platform/test_logs.py; a real ``conveyor serve``'s log:
tests/process/test_serve_logs.py."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from tests.support.api_client import Api, StartConveyor
from tests.support.queues import add_queue
from tests.support.responses import error_list


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
