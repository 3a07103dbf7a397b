"""What handlers produce: results (COMPLETE), exceptions (ERROR with type and message),
sync handlers (in a worker thread, the event loop stays free), results that are not JSON."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import aiohttp

from conveyor.serve import Served
from tests.support.api_client import Api, StartConveyor
from tests.support.handler_files import exists, touch
from tests.support.queues import add_queue
from tests.support.waiting import wait_until


async def test_async_handler_result_is_stored_complete(api: Api) -> None:
    token = api.keys.token(["tester"])
    message_id = await api.push("echo", {"a": [1, {"b": None}]}, token)
    record = await api.wait_final("echo", message_id, token)
    assert record["status"] == "COMPLETE"
    assert record["result"] == {
        "echo": {"a": [1, {"b": None}]},
        "id": message_id,
        "queue": "echo",
        "attempt": 1,
    }
    assert record["error"] is None
    assert record["attempts"] == 1


async def test_raising_handler_ends_error_with_type_and_message(api: Api) -> None:
    token = api.keys.token(["tester"])
    message_id = await api.push("fail", {"x": 1}, token)
    record = await api.wait_final("fail", message_id, token)
    assert record["status"] == "ERROR"
    assert record["error"] == {"type": "Boom", "message": "exploded on {'x': 1}"}
    assert record["result"] is None
    assert record["attempts"] == 1, "a handler's exception is an outcome, not a retry"
    assert record["request"] == {"x": 1}


async def test_sync_handler_runs_in_a_worker_thread(api: Api) -> None:
    token = api.keys.token(["tester"])
    message_id = await api.push("syncwork", {"seconds": 0}, token)
    record = await api.wait_final("syncwork", message_id, token)
    assert record["status"] == "COMPLETE", record
    result = record["result"]
    assert result["main"] == "MainThread"
    assert result["thread"] != result["main"]
    assert result["thread"].startswith("handler")


async def test_event_loop_answers_while_a_sync_handler_blocks(
    queues_dir: Path,
    start_conveyor: StartConveyor,
    api_for: Callable[[Served], Api],
    tmp_path: Path,
) -> None:
    """The handler blocks its thread until the test, after getting answers, releases it: if
    the handler blocked the event loop, the requests below could never be answered."""
    add_queue(queues_dir, "blocking", handler="syncgate", roles={"roles": ["tester"]})
    api = api_for(await start_conveyor())
    token = api.keys.token(["tester"])
    marker, release = tmp_path / "started", tmp_path / "release"
    message_id = await api.push("blocking", {"marker": str(marker), "release": str(release)}, token)
    await wait_until(lambda: exists(marker), "the sync handler to start")

    timeout = aiohttp.ClientTimeout(total=10)
    health = await api.session.get(f"{api.base}/healthz", timeout=timeout)
    assert health.status == 200
    record = await (
        await api.session.get(
            f"{api.base}/blocking/{message_id}", headers=api.auth(token), timeout=timeout
        )
    ).json()
    assert record["status"] == "INPROGRESS"
    other = await api.push("echo", {"meanwhile": True}, token)
    assert (await api.wait_final("echo", other, token))["status"] == "COMPLETE"

    touch(release)
    final = await api.wait_final("blocking", message_id, token)
    assert final["status"] == "COMPLETE"
    assert final["result"]["thread"] != final["result"]["main"]


async def test_sync_handler_exception_ends_error(
    queues_dir: Path, start_conveyor: StartConveyor, api_for: Callable[[Served], Api]
) -> None:
    add_queue(queues_dir, "syncfail", handler="syncfail", roles={"roles": ["tester"]})
    api = api_for(await start_conveyor())
    token = api.keys.token(["tester"])
    message_id = await api.push("syncfail", {"n": 7}, token)
    record = await api.wait_final("syncfail", message_id, token)
    assert record["status"] == "ERROR"
    assert record["error"] == {"type": "ValueError", "message": "cannot handle 7"}
    assert record["result"] is None


async def test_result_that_is_not_json_ends_error_with_clear_message(api: Api) -> None:
    token = api.keys.token(["tester"])
    message_id = await api.push("nonjson", {}, token)
    record = await api.wait_final("nonjson", message_id, token)
    assert record["status"] == "ERROR"
    assert record["result"] is None
    assert record["error"]["type"] == "ResultNotJSON"
    assert "cannot be stored as JSON" in record["error"]["message"]
    assert "object" in record["error"]["message"]


async def test_nan_result_is_not_json_either(
    queues_dir: Path, start_conveyor: StartConveyor, api_for: Callable[[Served], Api]
) -> None:
    add_queue(queues_dir, "nan", handler="nanresult", roles={"roles": ["tester"]})
    api = api_for(await start_conveyor())
    token = api.keys.token(["tester"])
    record = await api.wait_final("nan", await api.push("nan", {}, token), token)
    assert record["status"] == "ERROR"
    assert record["error"]["type"] == "ResultNotJSON"
    assert "cannot be stored as JSON" in record["error"]["message"]


async def test_handler_taking_only_the_message_and_one_returning_none(
    queues_dir: Path, start_conveyor: StartConveyor, api_for: Callable[[Served], Api]
) -> None:
    add_queue(queues_dir, "oneparam", handler="oneparam", roles={"roles": ["tester"]})
    add_queue(queues_dir, "nothing", handler="nothing", roles={"roles": ["tester"]})
    api = api_for(await start_conveyor())
    token = api.keys.token(["tester"])
    record = await api.wait_final("oneparam", await api.push("oneparam", [1, 2], token), token)
    assert (record["status"], record["result"]) == ("COMPLETE", {"got": [1, 2]})
    record = await api.wait_final("nothing", await api.push("nothing", {}, token), token)
    assert (record["status"], record["result"], record["error"]) == ("COMPLETE", None, None)


async def test_many_messages_each_run_exactly_once(api: Api) -> None:
    token = api.keys.token(["tester"])
    ids = [await api.push("echo", {"n": n}, token) for n in range(30)]
    for n, message_id in enumerate(ids):
        record = await api.wait_final("echo", message_id, token)
        assert record["status"] == "COMPLETE"
        assert record["result"]["echo"] == {"n": n}
        assert record["result"]["id"] == message_id
        assert record["attempts"] == 1
