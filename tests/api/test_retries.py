"""Timeouts, retries with backoff, ``Retry``/``Reject`` and redrive, over HTTP in both modes.

Test queues come from ``tests/fixtures/queues/retry`` (copied into the test's ``queues_dir``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from conveyor.serve import Served, serving
from shared.adapters.rabbitmq.delays import tier_queue
from shared.platform.settings import Settings
from tests.support.api_client import Api, StartConveyor
from tests.support.brokers import RabbitNode
from tests.support.metrics import parse, value
from tests.support.queues import add_retry_queue
from tests.support.responses import error_list
from tests.support.waiting import wait_until

ADMIN = ["system_admin"]


async def started(
    start_conveyor: StartConveyor, api_for: Callable[[Served], Api]
) -> tuple[Api, str]:
    api = api_for(await start_conveyor())
    return api, api.keys.token(ADMIN)


async def wait_for(
    api: Api, queue: str, message_id: str, token: str, check: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """Poll GET until ``check(record)``; the record (fails after 20 s)."""
    last: list[dict[str, Any]] = []

    async def checked() -> dict[str, Any] | None:
        resp = await api.get(f"/{queue}/{message_id}", token)
        assert resp.status == 200, await resp.text()
        last[:] = [await resp.json()]
        return last[0] if check(last[0]) else None

    what = f"/{queue}/{message_id} to pass {check.__name__}"
    record: dict[str, Any] = await wait_until(checked, what, interval=0.02, detail=lambda: last)
    return record


def waiting_retry(record: dict[str, Any]) -> bool:
    return bool(record["status"] == "PENDING" and record["attempts"] >= 1)


@pytest.mark.parametrize("handler", ["sleepy", "sleepy_sync"])
async def test_timeout_ends_error(
    queues_dir: Path, start_conveyor: StartConveyor, api_for: Callable[[Served], Api], handler: str
) -> None:
    add_retry_queue(queues_dir, "t", handler, timeout_seconds=0.3)
    api, token = await started(start_conveyor, api_for)
    slow = await api.push("t", {"sleep": 5}, token)
    quick = await api.push("t", {"sleep": 0}, token)
    record = await api.wait_final("t", slow, token)
    assert record["status"] == "ERROR" and record["attempts"] == 1
    assert record["error"]["type"] == "HandlerTimeout"
    assert "timeout_seconds=0.3" in record["error"]["message"]
    assert record["result"] is None
    assert (await api.wait_final("t", quick, token))["status"] == "COMPLETE"


async def test_timeout_counts_as_a_failed_attempt(
    queues_dir: Path, start_conveyor: StartConveyor, api_for: Callable[[Served], Api]
) -> None:
    add_retry_queue(
        queues_dir, "t", "sleepy", timeout_seconds=0.2, max_attempts=2, retry_backoff_seconds=0.1
    )
    api, token = await started(start_conveyor, api_for)
    message_id = await api.push("t", {"sleep": 5}, token)
    record = await api.wait_final("t", message_id, token)
    assert (record["status"], record["attempts"]) == ("ERROR", 2)
    assert record["error"]["type"] == "HandlerTimeout"


async def test_retries_with_backoff_then_complete(
    queues_dir: Path, start_conveyor: StartConveyor, api_for: Callable[[Served], Api]
) -> None:
    add_retry_queue(
        queues_dir,
        "f",
        "flaky",
        max_attempts=5,
        retry_backoff_seconds=0.8,
        retry_backoff_max_seconds=1.0,
    )
    api, token = await started(start_conveyor, api_for)
    message_id = await api.push("f", {"succeed_on": 3}, token)
    between = await wait_for(api, "f", message_id, token, waiting_retry)
    assert between["error"]["type"] == "ValueError"
    assert between["error"]["message"].startswith("attempt ")
    assert between["result"] is None
    second = await wait_for(
        api, "f", message_id, token, lambda r: waiting_retry(r) and r["attempts"] == 2
    )
    error = second["error"]
    assert error.pop("traceback").endswith("ValueError: attempt 2 fails\n")  # an admin's view
    assert error == {"type": "ValueError", "message": "attempt 2 fails"}
    record = await api.wait_final("f", message_id, token)
    assert (record["status"], record["attempts"]) == ("COMPLETE", 3)
    assert record["result"] == {"attempt": 3}
    assert record["error"] is None
    metrics = parse(await (await api.get("/metrics", api.keys.token(["system_reader"]))).text())
    assert value(metrics, "conveyor_retries_total", queue="f") == 2


async def test_max_attempts_exhausted(
    queues_dir: Path, start_conveyor: StartConveyor, api_for: Callable[[Served], Api]
) -> None:
    add_retry_queue(queues_dir, "f", "flaky", max_attempts=3, retry_backoff_seconds=0.05)
    api, token = await started(start_conveyor, api_for)
    message_id = await api.push("f", {"succeed_on": 99}, token)
    record = await api.wait_final("f", message_id, token)
    assert (record["status"], record["attempts"]) == ("ERROR", 3)
    error = record["error"]
    assert error.pop("traceback").endswith("ValueError: attempt 3 fails\n")  # an admin's view
    assert error == {"type": "ValueError", "message": "attempt 3 fails"}


async def test_without_max_attempts_a_failure_is_final(
    queues_dir: Path, start_conveyor: StartConveyor, api_for: Callable[[Served], Api]
) -> None:
    add_retry_queue(queues_dir, "f", "flaky")
    api, token = await started(start_conveyor, api_for)
    record = await api.wait_final("f", await api.push("f", {"succeed_on": 2}, token), token)
    assert (record["status"], record["attempts"]) == ("ERROR", 1)


async def test_handler_retry_with_delay(
    queues_dir: Path,
    tmp_path: Path,
    start_conveyor: StartConveyor,
    api_for: Callable[[Served], Api],
) -> None:
    add_retry_queue(queues_dir, "r", "asks_retry", max_attempts=2, retry_backoff_seconds=300)
    api, token = await started(start_conveyor, api_for)
    runs = tmp_path / "runs.log"
    message_id = await api.push("r", {"delay": 1.2, "log": str(runs)}, token)
    between = await wait_for(api, "r", message_id, token, waiting_retry)
    assert between["error"] == {"type": "Retry", "message": "not yet"}
    record = await api.wait_final("r", message_id, token)
    assert (record["status"], record["attempts"]) == ("COMPLETE", 2)
    first, second = (float(line) for line in runs.read_text().split())
    assert second - first >= 1.2 - 0.05  # the handler's delay replaced the 300 s backoff


async def test_handler_retry_honours_max_attempts(
    queues_dir: Path,
    tmp_path: Path,
    start_conveyor: StartConveyor,
    api_for: Callable[[Served], Api],
) -> None:
    add_retry_queue(queues_dir, "r", "asks_retry")
    api, token = await started(start_conveyor, api_for)
    message_id = await api.push("r", {"delay": 0, "log": str(tmp_path / "runs")}, token)
    record = await api.wait_final("r", message_id, token)
    assert (record["status"], record["attempts"]) == ("ERROR", 1)
    assert record["error"]["type"] == "Retry"


async def test_reject_fails_at_once(
    queues_dir: Path, start_conveyor: StartConveyor, api_for: Callable[[Served], Api]
) -> None:
    add_retry_queue(queues_dir, "x", "rejects", max_attempts=5, retry_backoff_seconds=0.05)
    api, token = await started(start_conveyor, api_for)
    record = await api.wait_final("x", await api.push("x", {}, token), token)
    assert (record["status"], record["attempts"]) == ("ERROR", 1)
    assert record["error"] == {"type": "Rejected", "message": "bad input"}


async def redrive(
    api: Api, queue: str, message_id: str, token: str | None
) -> aiohttp.ClientResponse:
    return await api.post(f"{queue}/{message_id}/retry", None, token)


async def test_redrive_roles_and_answers(
    queues_dir: Path,
    tmp_path: Path,
    start_conveyor: StartConveyor,
    api_for: Callable[[Served], Api],
) -> None:
    add_retry_queue(queues_dir, "m", "marker", roles={"roles": ["m_reader"]})
    api, token = await started(start_conveyor, api_for)
    marker = tmp_path / "marker"
    message_id = await api.push("m", {"marker": str(marker)}, token)
    failed = await api.wait_final("m", message_id, token)
    assert (failed["status"], failed["error"]["type"]) == ("ERROR", "FileNotFoundError")

    resp = await redrive(api, "m", message_id, None)
    await error_list(resp, 401)
    assert "Bearer" in resp.headers["WWW-Authenticate"]
    await error_list(await redrive(api, "m", message_id, "not-a-token"), 401)
    for roles in (["m_writer"], ["system_writer"], ["queue_writer"], ["m_reader"], ["x_admin"]):
        await error_list(await redrive(api, "m", message_id, api.keys.token(roles)), 403)
    await error_list(await redrive(api, "nope", message_id, token), 404)
    await error_list(await redrive(api, "m", "no-such-id", token), 404)
    unchanged = await api.get(f"/m/{message_id}", token)
    assert (await unchanged.json())["status"] == "ERROR"

    marker.write_text("go")
    resp = await redrive(api, "m", message_id, api.keys.token(["m_admin"]))
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert (body["id"], body["status"], body["attempts"], body["error"]) == (
        message_id,
        "PENDING",
        0,
        None,
    )
    record = await api.wait_final("m", message_id, token)
    assert (record["status"], record["attempts"], record["result"]) == (
        "COMPLETE",
        1,
        {"attempt": 1},
    )
    errors = await error_list(await redrive(api, "m", message_id, token), 409)
    assert "COMPLETE" in str(errors)


async def test_redrive_by_system_admin_reruns_an_error(
    queues_dir: Path,
    tmp_path: Path,
    start_conveyor: StartConveyor,
    api_for: Callable[[Served], Api],
) -> None:
    add_retry_queue(queues_dir, "m", "marker", max_attempts=2, retry_backoff_seconds=0.05)
    api, token = await started(start_conveyor, api_for)
    marker = tmp_path / "marker"
    message_id = await api.push("m", {"marker": str(marker)}, token)
    assert (await api.wait_final("m", message_id, token))["attempts"] == 2
    resp = await redrive(api, "m", message_id, token)
    assert resp.status == 200, await resp.text()
    again = await api.wait_final("m", message_id, token)  # fails again: a full new run
    assert (again["status"], again["attempts"]) == ("ERROR", 2)
    marker.write_text("go")
    assert (await redrive(api, "m", message_id, token)).status == 200
    assert (await api.wait_final("m", message_id, token))["status"] == "COMPLETE"


@pytest.mark.parametrize("mode", ["distributed"], indirect=True)  # RabbitMQ delay queues
async def test_waiting_retry_is_not_held_by_a_consumer(
    queues_dir: Path,
    tmp_path: Path,
    start_conveyor: StartConveyor,
    api_for: Callable[[Served], Api],
    rabbitmq: RabbitNode,
) -> None:
    """RabbitMQ: the waiting retry sits in the delay queue, acked off the main queue."""
    add_retry_queue(queues_dir, "w", "asks_retry", max_attempts=2)
    served = await start_conveyor()
    api, token = api_for(served), api_for(served).keys.token(ADMIN)
    settings = served.runtime.settings
    assert settings.broker is not None
    main = settings.queue_prefix + "w"
    message_id = await api.push("w", {"delay": 10.5, "log": str(tmp_path / "runs")}, token)
    await wait_for(api, "w", message_id, token, waiting_retry)
    assert settings.broker == rabbitmq.url
    # The record says "waiting" once the retry is stored; its copy reaches the delay tier
    # just after (stored first, then published: the sweep covers a crash in between).
    tier = tier_queue(main, 10_000)

    async def in_the_tier() -> bool:
        return (await rabbitmq.counts(tier)).messages == 1

    await wait_until(in_the_tier, f"{tier} to hold the retry", within=5, interval=0.1)
    assert (await rabbitmq.counts(main)).messages == 0  # ready; unacknowledged ones below

    async def released() -> bool:
        """No message on the main queue, not even an unacknowledged one (the broker's own
        figures can lag a little), while the retry still waits."""
        row = await rabbitmq.queue_info(main, "messages", "messages_unacknowledged")
        record = await (await api.get(f"/w/{message_id}", token)).json()
        assert record["status"] == "PENDING", record
        return row is not None and row["messages"] == row["messages_unacknowledged"] == 0

    await wait_until(released, f"{main} to hold no message", interval=0.2)
    record = await api.wait_final("w", message_id, token)
    assert (record["status"], record["attempts"]) == ("COMPLETE", 2)


@pytest.mark.parametrize("mode", ["embedded"], indirect=True)  # start-up recovery
async def test_restart_honours_the_retry_schedule(
    base_settings: Settings, queues_dir: Path, tmp_path: Path, keys: Any
) -> None:
    """Embedded: a retry waiting in the store is not run early by start-up recovery."""
    add_retry_queue(queues_dir, "r", "asks_retry", max_attempts=2)
    settings = dataclasses.replace(base_settings)
    runs = tmp_path / "runs.log"
    token = keys.token(ADMIN)
    async with aiohttp.ClientSession() as session:
        async with serving(settings) as served:
            api = Api(session, served.url, keys)
            message_id = await api.push("r", {"delay": 2.5, "log": str(runs)}, token)
            await wait_for(api, "r", message_id, token, waiting_retry)
        async with serving(settings) as served:
            api = Api(session, served.url, keys)
            record = await api.wait_final("r", message_id, token)
    assert (record["status"], record["attempts"]) == ("COMPLETE", 2)
    first, second = (float(line) for line in runs.read_text().split())
    assert second - first >= 2.5 - 0.05
