"""Cancellation through HTTP, in both modes: ``POST /{queue}/{id}/cancel`` of a waiting
message (200, it never runs), of a running one (202; the handler is stopped and the record
ends CANCELLED), of a sync handler that honours or ignores ``ctx.cancelled``, of a waiting
retry; 404/409/401/403; and what knows the new status (``?wait=``, listing, ``/queues``,
metrics, redrive, ``ctx.messaging.cancel``)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.api_client import Api, StartConveyor
from tests.support.handler_files import exists, written
from tests.support.queues import add_queue
from tests.support.responses import assert_record, error_list
from tests.support.waiting import wait_until

ROLES = {"roles": ["tester"]}


@pytest.fixture
async def capi(start_conveyor: StartConveyor, api_for: Any, queues_dir: Path) -> Api:
    for name in ("spanlog", "cancellable", "synccancel", "pusher"):
        add_queue(queues_dir, name, handler=name, roles=ROLES)
    add_queue(
        queues_dir,
        "retrying",
        handler="fail",
        roles=ROLES,
        max_attempts=3,
        retry_backoff_seconds=1.5,
    )
    api: Api = api_for(await start_conveyor())
    return api


async def cancel(
    api: Api, queue: str, message_id: str, token: str | None
) -> aiohttp.ClientResponse:
    resp = await api.session.post(
        f"{api.base}/{queue}/{message_id}/cancel", headers=api.auth(token)
    )
    await resp.read()
    return resp


async def record_of(api: Api, queue: str, message_id: str, token: str) -> dict[str, Any]:
    resp = await api.get(f"/{queue}/{message_id}", token)
    assert resp.status == 200, await resp.text()
    record: dict[str, Any] = await resp.json()
    return record


async def cancelled(api: Api, queue: str, message_id: str, token: str, within: float) -> Any:
    """Wait until the record is CANCELLED; the record."""

    async def check() -> dict[str, Any] | None:
        record = await record_of(api, queue, message_id, token)
        assert record["status"] in ("INPROGRESS", "CANCELLED"), record
        return record if record["status"] == "CANCELLED" else None

    return await wait_until(check, f"{queue}/{message_id} to be CANCELLED", within)


def starts(log: Path) -> list[str]:
    """The ids whose run started, from the span log."""
    if not log.exists():
        return []
    return [line.split()[0] for line in log.read_text().splitlines() if " start " in line]


async def test_a_delayed_message_cancelled_never_runs(capi: Api, tmp_path: Path) -> None:
    token = capi.keys.token(["tester"])
    log = tmp_path / "spans.log"
    resp = await capi.post("spanlog", {"log": str(log)}, token, params={"delay": "1"})
    message_id = (await resp.json())["id"]
    resp = await cancel(capi, "spanlog", message_id, token)
    assert resp.status == 200, await resp.text()
    record = await resp.json()
    assert_record(record, "spanlog")
    assert (record["status"], record["not_before"]) == ("CANCELLED", None)
    assert resp.headers["Location"] == f"/spanlog/{message_id}"
    control = await capi.post("spanlog", {"log": str(log)}, token, params={"delay": "1.2"})
    control_id = (await control.json())["id"]
    assert (await capi.wait_final("spanlog", control_id, token))["status"] == "COMPLETE"
    assert starts(log) == [control_id]  # the cancelled one was due first, and never ran
    assert (await record_of(capi, "spanlog", message_id, token))["status"] == "CANCELLED"


@pytest.mark.parametrize("swallow", [False, True])
async def test_a_running_async_handler_is_cancelled(
    capi: Api, tmp_path: Path, swallow: bool
) -> None:
    token = capi.keys.token(["tester"])
    marker, cleanup = tmp_path / "started", tmp_path / "cleanup"
    body = {"marker": str(marker), "cleanup": str(cleanup), "swallow": swallow}
    message_id = await capi.push("cancellable", body, token)
    await wait_until(lambda: exists(marker), "the handler to start", 10)
    resp = await cancel(capi, "cancellable", message_id, token)
    assert resp.status == 202, await resp.text()
    asked = await resp.json()
    assert (asked["status"], asked["cancel_requested"]) == ("INPROGRESS", True)
    record = await cancelled(capi, "cancellable", message_id, token, within=2)
    assert record["result"] is None and record["error"] is None  # a swallowed run's result too
    assert cleanup.read_text() == "True\n"  # its finally block ran, with ctx.cancelled set
    again = await cancel(capi, "cancellable", message_id, token)
    await error_list(again, 409)


async def test_a_sync_handler_sees_ctx_cancelled(capi: Api, tmp_path: Path) -> None:
    token = capi.keys.token(["tester"])
    marker, cleanup = tmp_path / "started", tmp_path / "cleanup"
    message_id = await capi.push(
        "synccancel", {"marker": str(marker), "cleanup": str(cleanup)}, token
    )
    await wait_until(lambda: exists(marker), "the handler to start", 10)
    assert (await cancel(capi, "synccancel", message_id, token)).status == 202
    await cancelled(capi, "synccancel", message_id, token, within=2)
    await wait_until(lambda: written(cleanup), "the sync handler to stop", 5)
    assert cleanup.read_text() == "True True\n"


async def test_a_sync_handler_ignoring_the_flag_runs_on_and_its_result_is_discarded(
    capi: Api, tmp_path: Path
) -> None:
    token = capi.keys.token(["tester"])
    marker, release, done = tmp_path / "started", tmp_path / "release", tmp_path / "done"
    body = {"marker": str(marker), "release": str(release), "done": str(done)}
    message_id = await capi.push("synccancel", body, token)
    await wait_until(lambda: exists(marker), "the handler to start", 10)
    assert (await cancel(capi, "synccancel", message_id, token)).status == 202
    await cancelled(capi, "synccancel", message_id, token, within=2)
    assert not done.exists()  # cancelled while its thread still runs
    release.write_text("go\n")
    await wait_until(lambda: exists(done), "the thread to run on", 5)
    record = await capi.get(f"/synccancel/{message_id}?wait=1", token)
    assert (await record.json())["status"] == "CANCELLED"
    assert (await record.json())["result"] is None


async def test_a_message_waiting_for_a_retry_is_cancelled_and_not_retried(capi: Api) -> None:
    token = capi.keys.token(["tester"])
    message_id = await capi.push("retrying", {"n": 1}, token)

    async def waiting() -> dict[str, Any] | None:
        record = await record_of(capi, "retrying", message_id, token)
        return record if record["status"] == "PENDING" and record["attempts"] == 1 else None

    await wait_until(waiting, "the first attempt to fail and wait for its retry", 10)
    resp = await cancel(capi, "retrying", message_id, token)
    assert resp.status == 200, await resp.text()
    record = await resp.json()
    assert (record["status"], record["attempts"]) == ("CANCELLED", 1)
    late = await capi.get(f"/retrying/{message_id}?wait=2", token)  # past the retry's due time
    assert ((await late.json())["status"], (await late.json())["attempts"]) == ("CANCELLED", 1)


async def test_cancel_answers_404_409_401_403(capi: Api) -> None:
    token = capi.keys.token(["tester"])
    await error_list(await cancel(capi, "echo", "no-such-id", token), 404)
    await error_list(await cancel(capi, "nosuchqueue", "x", token), 404)
    done = await capi.push("echo", {"n": 1}, token)
    await capi.wait_final("echo", done, token)
    problems = await error_list(await cancel(capi, "echo", done, token), 409)
    assert "COMPLETE" in problems[0]
    await error_list(await cancel(capi, "echo", done, None), 401)
    await error_list(await cancel(capi, "echo", done, capi.keys.token(["other"])), 403)
    failed = await capi.push("fail", {"n": 1}, token)
    await capi.wait_final("fail", failed, token)
    await error_list(await cancel(capi, "fail", failed, token), 409)


async def test_the_new_status_is_known_everywhere(capi: Api, tmp_path: Path) -> None:
    token = capi.keys.token(["tester"])
    admin = capi.keys.token(["system_admin"])
    log = tmp_path / "spans.log"
    resp = await capi.post("spanlog", {"log": str(log)}, token, params={"delay": "30"})
    message_id = (await resp.json())["id"]
    # A waiter is woken by the cancel (else it would answer PENDING after 20 s).
    waiter = asyncio.create_task(capi.get(f"/spanlog/{message_id}?wait=20", token))
    await capi.until_waiting()
    await cancel(capi, "spanlog", message_id, token)
    assert (await (await waiter).json())["status"] == "CANCELLED"
    listing = await capi.get("/spanlog?status=CANCELLED", token)
    assert [r["id"] for r in (await listing.json())["items"]] == [message_id]
    others = await capi.get("/spanlog?status=PENDING", token)
    assert (await others.json())["items"] == []
    queues = await capi.get("/queues", admin)
    (summary,) = [q for q in (await queues.json())["queues"] if q["name"] == "spanlog"]
    assert summary["messages"]["CANCELLED"] == 1 and summary["messages"]["PENDING"] == 0
    redrive = await capi.session.post(
        f"{capi.base}/spanlog/{message_id}/retry", headers=capi.auth(admin)
    )
    await error_list(redrive, 409)


async def test_a_cancelled_run_is_counted_in_the_metrics(capi: Api, tmp_path: Path) -> None:
    token = capi.keys.token(["tester"])
    marker, cleanup = tmp_path / "started", tmp_path / "cleanup"
    message_id = await capi.push(
        "cancellable", {"marker": str(marker), "cleanup": str(cleanup)}, token
    )
    await wait_until(lambda: exists(marker), "the handler to start", 10)
    await cancel(capi, "cancellable", message_id, token)
    await cancelled(capi, "cancellable", message_id, token, within=2)
    text = await (await capi.get("/metrics", capi.keys.token(["system_reader"]))).text()
    line = 'conveyor_messages_finished_total{queue="cancellable",status="CANCELLED"} 1.0'
    assert line in text
    assert 'conveyor_cancels_total{queue="cancellable",state="running"} 1.0' in text
    resp = await capi.post("cancellable", {"marker": "/dev/null"}, token, params={"delay": "30"})
    await cancel(capi, "cancellable", (await resp.json())["id"], token)
    text = await (await capi.get("/metrics", capi.keys.token(["system_reader"]))).text()
    assert 'conveyor_cancels_total{queue="cancellable",state="waiting"} 1.0' in text


async def test_ctx_messaging_cancel(capi: Api, tmp_path: Path) -> None:
    token = capi.keys.token(["tester"])
    resp = await capi.post("spanlog", {"log": str(tmp_path / "l")}, token, params={"delay": "30"})
    target = (await resp.json())["id"]
    order = {"op": "cancel", "queue": "spanlog", "id": target}
    first = await capi.wait_final("pusher", await capi.push("pusher", order, token), token)
    assert first["result"]["cancelled"]["status"] == "CANCELLED", first
    second = await capi.wait_final("pusher", await capi.push("pusher", order, token), token)
    assert "CANCELLED" in second["result"]["conflict"], second
