"""Progress and the live event stream (``ctx.progress``, ``GET /{queue}/{id}/events``), through
real HTTP in both modes: an SSE client (aiohttp) sees each progress report and the final
status, reconnects with ``Last-Event-ID``, and the bad inputs get their 4xx. The stream
outlives the gateway's slow-client timers and ends after its maximum time (SIGTERM on a real
``conveyor serve``: tests/process/test_serve_process.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest

from conveyor.serve import Served
from tests.support.api_client import Api, StartConveyor
from tests.support.handler_files import touch
from tests.support.queues import add_event_queues
from tests.support.responses import error_list
from tests.support.sse import STREAM, Event, collect, events
from tests.support.waiting import wait_until


@pytest.fixture
async def eapi(
    queues_dir: Path, start_conveyor: StartConveyor, api_for: Callable[[Served], Api]
) -> Api:
    add_event_queues(queues_dir)
    return api_for(await start_conveyor(events_heartbeat_seconds=0.5))


@contextlib.asynccontextmanager
async def stream(
    api: Api, path: str, token: str | None, **headers: str
) -> AsyncIterator[aiohttp.ClientResponse]:
    """``GET path/events`` as an event stream; the response, closed at the end."""
    all_headers = {**STREAM, **api.auth(token), **headers}
    timeout = aiohttp.ClientTimeout(total=60)
    async with api.session.get(
        f"{api.base}{path}/events", headers=all_headers, timeout=timeout
    ) as resp:
        yield resp


async def first_event(resp: aiohttp.ClientResponse) -> Event:
    async for event in events(resp):
        if event.comment is None:
            return event
    raise AssertionError("the stream ended without an event")


def check_versions(seen: list[Event]) -> None:
    versions = [e.version for e in seen]
    assert versions == sorted(set(versions)), versions  # increasing, nothing twice


async def test_a_client_sees_each_progress_report_and_the_final_status(
    eapi: Api, tmp_path: Path
) -> None:
    token = eapi.keys.token(["tester"])
    steps = [0.25, 0.5, 0.75]
    gate = tmp_path / "gate"
    mid = await eapi.push("progress", {"steps": steps, "gate": str(gate)}, token)
    seen: list[Event] = []
    async with stream(eapi, f"/progress/{mid}", token) as resp:
        assert resp.status == 200, await resp.text()
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        assert resp.headers.get("X-Request-Id")
        async for event in events(resp):
            if event.comment is not None:
                continue
            seen.append(event)
            progress = event.data["progress"]
            if progress is not None and event.data["status"] == "INPROGRESS":
                step = steps.index(progress["fraction"])
                assert progress["note"] == f"step {step}"
                touch(Path(f"{gate}.{step}"))  # the handler goes on to the next step
    assert seen[0].event == "status" and seen[0].data["id"] == mid
    # Each report is seen (each waits for the client), whether in a progress event or, for
    # the first, in the INPROGRESS status event when the stream's first read came after it.
    reports = [e.data["progress"]["fraction"] for e in seen if e.data["progress"]]
    assert list(dict.fromkeys(reports)) == steps
    assert [e.event for e in seen].count("progress") >= len(steps) - 1
    final = seen[-1]
    assert (final.event, final.data["status"], final.data["result"]) == (
        "status",
        "COMPLETE",
        {"steps": 3},
    )
    check_versions(seen)
    got = await (await eapi.get(f"/progress/{mid}", token)).json()
    assert got["version"] == final.version
    assert got["progress"]["fraction"] == 0.75 and got["progress"]["note"] == "step 2"
    assert [h["status"] for h in got["history"]] == ["PENDING", "INPROGRESS", "COMPLETE"]
    assert [h["attempt"] for h in got["history"]] == [0, 1, 1]
    consumer = got["history"][1]["consumer"]
    assert consumer and consumer == got["history"][2]["consumer"]


async def test_reconnecting_with_last_event_id_sends_nothing_twice(
    eapi: Api, tmp_path: Path
) -> None:
    token = eapi.keys.token(["tester"])
    release, marker = tmp_path / "release", tmp_path / "marker"
    mid = await eapi.push("gate", {"marker": str(marker), "release": str(release)}, token)
    await wait_until(lambda: marker.exists(), "the handler to start", 20)
    async with stream(eapi, f"/gate/{mid}", token) as resp:
        running = await first_event(resp)
    assert running.data["status"] == "INPROGRESS"
    seen = running.version
    async with stream(eapi, f"/gate/{mid}", token, **{"Last-Event-ID": str(seen)}) as resp:
        quiet = await anext(events(resp))
        assert quiet.comment == "heartbeat"  # nothing new: the state it has is not resent
        touch(release)
        rest = await collect(resp)
    assert [(e.event, e.data["status"]) for e in rest] == [("status", "COMPLETE")]
    final = rest[0].version
    assert final > seen
    async with stream(eapi, f"/gate/{mid}", token, **{"Last-Event-ID": str(seen)}) as resp:
        again = await collect(resp)  # missed the final status: gets it, once
    assert [(e.version, e.data["status"]) for e in again] == [(final, "COMPLETE")]
    async with stream(eapi, f"/gate/{mid}", token, **{"Last-Event-ID": str(final)}) as resp:
        assert resp.status == 200
        assert await collect(resp) == []  # has everything: the stream just ends


async def test_a_handler_gets_a_value_error_for_a_fraction_outside_0_to_1(eapi: Api) -> None:
    token = eapi.keys.token(["tester"])
    for bad in (1.5, -0.1, "half"):
        mid = await eapi.push("progress", {"bad": bad}, token)
        record = await eapi.wait_final("progress", mid, token)
        assert record["status"] == "ERROR", record
        assert record["error"]["type"] == "ValueError", record
        assert "0" in record["error"]["message"] and "1" in record["error"]["message"]
    mid = await eapi.push("progress", {"bad": 1}, token)
    assert (await eapi.wait_final("progress", mid, token))["status"] == "COMPLETE"


async def test_a_sync_handler_in_a_tight_loop_writes_a_few_times_and_the_last_value_lands(
    eapi: Api,
) -> None:
    token = eapi.keys.token(["tester"])
    mid = await eapi.push("syncprogress", {"reports": 20000}, token)
    record = await eapi.wait_final("syncprogress", mid, token)
    assert record["status"] == "COMPLETE", record
    assert record["progress"]["fraction"] == 1.0 and record["progress"]["note"] == "done"
    # version = push + claim + progress writes + finish; at most one write per 0.25 s of the
    # loop, plus the last one (the loop's own duration is in the result).
    writes = record["version"] - 3
    assert 1 <= writes <= record["result"]["seconds"] / 0.25 + 2, record


async def test_bad_requests_get_problem_answers(eapi: Api) -> None:
    token = eapi.keys.token(["tester"])
    mid = await eapi.push("gate", {"marker": "/dev/null", "release": "/"}, token)
    await eapi.wait_final("gate", mid, token)
    url = f"{eapi.base}/gate/{mid}/events"
    for accept in (None, "application/json", "*/*", "text/event-stream;q=0"):
        headers = {**eapi.auth(token), **({"Accept": accept} if accept else {})}
        async with eapi.session.get(url, headers=headers) as resp:
            assert resp.status == 406, (accept, await resp.text())
            assert resp.content_type == "application/problem+json"
            (item,) = await error_list(resp, 406)
            assert "text/event-stream" in item
    for bad in ("x", "-1", "1.5", "99999999999999999999"):
        async with stream(eapi, f"/gate/{mid}", token, **{"Last-Event-ID": bad}) as resp:
            assert resp.status == 400, bad
            await error_list(resp, 400)
    async with stream(eapi, "/gate/no-such-id", token) as resp:
        assert resp.status == 404
        await error_list(resp, 404)
    async with stream(eapi, f"/gate/{mid}", None) as resp:
        assert resp.status == 401
    async with stream(eapi, f"/gate/{mid}", eapi.keys.token(["someone-else"])) as resp:
        assert resp.status == 403
    async with stream(eapi, "/nosuchqueue/x", token) as resp:
        assert resp.status == 404
    async with eapi.session.head(url, headers={**eapi.auth(token), **STREAM}) as resp:
        assert resp.status == 405  # no stream behind a HEAD


async def test_a_deleted_message_ends_its_stream(eapi: Api, tmp_path: Path) -> None:
    token = eapi.keys.token(["tester"])
    mid = await eapi.push(
        "gate", {"marker": str(tmp_path / "m"), "release": str(tmp_path / "r")}, token
    )
    async with stream(eapi, f"/gate/{mid}", token) as resp:
        await first_event(resp)
        assert (await eapi.delete(f"/gate/{mid}", token)).status == 204
        rest = await collect(resp)
    assert [(e.event, e.data) for e in rest] == [("deleted", {"id": mid})]
    touch(tmp_path / "r")


async def test_a_stream_outlives_the_read_timeouts_and_ends_after_its_maximum(
    queues_dir: Path,
    start_conveyor: StartConveyor,
    api_for: Callable[[Served], Api],
    tmp_path: Path,
) -> None:
    add_event_queues(queues_dir)
    api = api_for(
        await start_conveyor(
            header_timeout_seconds=0.3,
            body_timeout_seconds=0.3,
            idle_timeout_seconds=0.3,
            events_heartbeat_seconds=0.2,
            events_max_seconds=2.0,
        )
    )
    token = api.keys.token(["tester"])
    mid = await api.push(
        "gate", {"marker": str(tmp_path / "m"), "release": str(tmp_path / "r")}, token
    )
    items: list[Event] = []
    async with stream(api, f"/gate/{mid}", token) as resp:
        items = [e async for e in events(resp)]  # until the server ends it
    beats = [e for e in items if e.comment == "heartbeat"]
    assert len(beats) >= 4, items  # 2 s of heartbeats every 0.2 s: far past every timer
    assert items[0].event == "status" and items[0].data["status"] in ("PENDING", "INPROGRESS")
    touch(tmp_path / "r")
    record = await api.wait_final("gate", mid, token)
    async with stream(api, f"/gate/{mid}", token, **{"Last-Event-ID": items[0].id or ""}) as resp:
        rest = await collect(resp)
    assert rest and rest[-1].version == record["version"] and rest[-1].data["status"] == "COMPLETE"


async def test_a_stream_ends_when_its_token_expires(eapi: Api, tmp_path: Path) -> None:
    token = eapi.keys.token(["tester"])
    mid = await eapi.push(
        "gate", {"marker": str(tmp_path / "m"), "release": str(tmp_path / "r")}, token
    )
    short = eapi.keys.token(["tester"], ttl=2)  # the stream's maximum here is 300 s
    async with stream(eapi, f"/gate/{mid}", short) as resp:
        assert resp.status == 200
        items = [e async for e in events(resp)]  # ends, though nothing became final
    assert items[0].event == "status"
    record = await (await eapi.get(f"/gate/{mid}", token)).json()
    assert record["status"] in ("PENDING", "INPROGRESS")
    touch(tmp_path / "r")
