"""Delayed pushes through HTTP, in both modes: ``?delay=`` and ``Not-Before`` on single and
batch pushes, never run early, survive a restart, can be deleted, and bad input is 4xx."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from conveyor.serve import serving
from shared.platform.settings import Settings
from tests.support.api_client import Api, StartConveyor
from tests.support.queues import add_queue
from tests.support.responses import error_list


@pytest.fixture
async def dapi(start_conveyor: StartConveyor, api_for: Any, queues_dir: Path) -> Api:
    add_queue(queues_dir, "spanlog", handler="spanlog", roles={"roles": ["tester"]})
    add_queue(queues_dir, "brief", roles={"roles": ["tester"]}, max_delay_seconds=10)
    api: Api = api_for(await start_conveyor())
    return api


def starts(log: Path) -> dict[str, float]:
    """message id → when its (last) run started, from the span log."""
    if not log.exists():
        return {}
    rows = [line.split() for line in log.read_text().splitlines()]
    return {row[0]: float(row[3]) for row in rows if row[2] == "start"}


def parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts)


async def test_a_delayed_message_waits_then_runs(dapi: Api, tmp_path: Path) -> None:
    token = dapi.keys.token(["tester"])
    log = tmp_path / "spans.log"
    pushed_at = time.time()
    resp = await dapi.post("spanlog", {"log": str(log)}, token, params={"delay": "1.5"})
    assert resp.status == 201, await resp.text()
    record = await resp.json()
    assert record["status"] == "PENDING" and record["not_before"] is not None
    assert record["delivery"] == "delayed"
    due = parse(record["not_before"]).timestamp()
    assert 1.3 < due - pushed_at < 1.8
    early = await dapi.get(f"/spanlog/{record['id']}?wait=0.8", token)
    assert (await early.json())["status"] == "PENDING"
    final = await dapi.wait_final("spanlog", record["id"], token)
    assert final["status"] == "COMPLETE" and final["delivery"] is None
    assert starts(log)[record["id"]] >= due - 0.01  # never before its time


async def test_not_before_in_the_past_runs_at_once(dapi: Api) -> None:
    token = dapi.keys.token(["tester"])
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    resp = await dapi.post("echo", {"n": 1}, token, headers={"Not-Before": past})
    assert resp.status == 201, await resp.text()
    record = await resp.json()
    assert record["not_before"] is None
    assert (await dapi.wait_final("echo", record["id"], token, within=5))["status"] == "COMPLETE"


async def test_a_not_before_time_is_honoured(dapi: Api, tmp_path: Path) -> None:
    token = dapi.keys.token(["tester"])
    log = tmp_path / "spans.log"
    at = datetime.now(UTC) + timedelta(seconds=1.2)
    resp = await dapi.post(
        "spanlog", {"log": str(log)}, token, headers={"Not-Before": at.isoformat()}
    )
    assert resp.status == 201, await resp.text()
    message_id = (await resp.json())["id"]
    assert (await dapi.wait_final("spanlog", message_id, token))["status"] == "COMPLETE"
    assert starts(log)[message_id] >= at.timestamp() - 0.01


async def test_a_deleted_delayed_message_never_runs(dapi: Api, tmp_path: Path) -> None:
    token = dapi.keys.token(["tester"])
    log = tmp_path / "spans.log"
    resp = await dapi.post("spanlog", {"log": str(log)}, token, params={"delay": "1"})
    message_id = (await resp.json())["id"]
    assert (await dapi.delete(f"/spanlog/{message_id}", token)).status == 204
    control = await dapi.post("spanlog", {"log": str(log)}, token, params={"delay": "1.2"})
    control_id = (await control.json())["id"]
    await dapi.wait_final("spanlog", control_id, token)  # due after the deleted one
    assert message_id not in starts(log)


async def test_a_delayed_batch(dapi: Api, tmp_path: Path) -> None:
    token = dapi.keys.token(["tester"])
    log = tmp_path / "spans.log"
    resp = await dapi.session.post(
        f"{dapi.base}/spanlog/batch",
        json=[{"log": str(log)}, {"log": str(log)}],
        params={"delay": "1"},
        headers=dapi.auth(token),
    )
    assert resp.status == 207
    ids = [item["id"] for item in (await resp.json())["items"]]
    records = [await dapi.wait_final("spanlog", i, token) for i in ids]
    assert {r["status"] for r in records} == {"COMPLETE"}
    created = min(parse(r["created_at"]).timestamp() for r in records)
    assert all(starts(log)[i] >= created + 0.95 for i in ids)


@pytest.mark.parametrize(
    ("params", "headers", "status"),
    [
        ({"delay": "1"}, {"Not-Before": "2030-01-01T00:00:00Z"}, 400),
        ({"delay": "-1"}, {}, 400),
        ({"delay": "soon"}, {}, 400),
        ({"delay": "nan"}, {}, 400),
        ({"delay": "1e400"}, {}, 400),
        ({}, {"Not-Before": "tomorrow"}, 400),
        ({}, {"Not-Before": "2030-01-01T00:00:00"}, 400),  # no zone
        ({}, {"Not-Before": "0001-01-01T00:00:00+14:00"}, 400),
        ({"delay": "11"}, {}, 422),  # brief allows 10 s
        ({}, {"Not-Before": "9999-12-31T23:59:59Z"}, 422),
    ],
)
async def test_bad_start_requests(
    dapi: Api, params: dict[str, str], headers: dict[str, str], status: int
) -> None:
    token = dapi.keys.token(["tester"])
    resp = await dapi.post("brief", {}, token, params=params, headers=headers)
    await error_list(resp, status)
    batch = await dapi.session.post(
        f"{dapi.base}/brief/batch",
        json=[{}],
        params=params,
        headers={**dapi.auth(token), **headers},
    )
    await error_list(batch, status)


async def test_a_delayed_message_survives_a_restart(
    base_settings: Settings, queues_dir: Path, api_for: Any, tmp_path: Path
) -> None:
    add_queue(queues_dir, "spanlog", handler="spanlog", roles={"roles": ["tester"]})
    log = tmp_path / "spans.log"
    settings = dataclasses.replace(base_settings, handlers=queues_dir)
    async with serving(settings) as first:
        api: Api = api_for(first)
        token = api.keys.token(["tester"])
        resp = await api.post("spanlog", {"log": str(log)}, token, params={"delay": "2"})
        record = await resp.json()
    assert record["id"] not in starts(log)  # stopped before it was due
    async with serving(settings) as second:
        api = api_for(second)
        final = await api.wait_final("spanlog", record["id"], token)
    assert final["status"] == "COMPLETE"
    assert starts(log)[record["id"]] >= parse(record["not_before"]).timestamp() - 0.01
