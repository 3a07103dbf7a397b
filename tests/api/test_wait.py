"""``GET /{queue}/{id}?wait=N``: answers when the message is final, or after N seconds.

Through the real HTTP API in both modes (the distributed one wakes waiters through the
RabbitMQ completion events). Test queues come from tests/fixtures/queues/wait.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from conveyor.serve import Served
from tests.support.api_client import Api, StartConveyor
from tests.support.handler_files import touch
from tests.support.queues import add_wait_queues
from tests.support.responses import error_list
from tests.support.waiting import wait_until


@pytest.fixture
async def wapi(
    queues_dir: Path, start_conveyor: StartConveyor, api_for: Callable[[Served], Api]
) -> Api:
    """A started Conveyor with the wait test queues, and a client for it."""
    add_wait_queues(queues_dir)
    return api_for(await start_conveyor())


async def test_wait_on_a_final_message_answers_at_once(wapi: Api) -> None:
    token = wapi.keys.token(["tester"])
    message_id = await wapi.push("waithold", {}, token)
    await wapi.wait_final("waithold", message_id, token)
    resp = await wapi.get(f"/waithold/{message_id}?wait=60", token)
    assert resp.status == 200
    assert (await resp.json())["status"] == "COMPLETE"


async def test_wait_answers_as_soon_as_the_message_completes(wapi: Api, tmp_path: Path) -> None:
    token = wapi.keys.token(["tester"])
    release = tmp_path / "release"
    message_id = await wapi.push("waithold", {"release": str(release)}, token)
    waiting = asyncio.ensure_future(wapi.get(f"/waithold/{message_id}?wait=30", token))
    await wapi.until_waiting()
    assert not waiting.done()  # the message is held: the request is waiting
    touch(release)
    resp = await asyncio.wait_for(waiting, 20)  # far below 30: woken by the completion
    assert resp.status == 200
    record = await resp.json()
    assert record["id"] == message_id
    assert record["status"] == "COMPLETE"
    assert record["result"] == {"done": True, "id": message_id}


async def test_wait_on_a_message_completing_after_a_second_does_not_hit_the_deadline(
    wapi: Api,
) -> None:
    token = wapi.keys.token(["tester"])
    message_id = await wapi.push("waithold", {"seconds": 1}, token)
    started = time.monotonic()
    resp = await wapi.get(f"/waithold/{message_id}?wait=20", token)
    assert resp.status == 200
    assert (await resp.json())["status"] == "COMPLETE"
    assert time.monotonic() - started < 15  # loose: well before the 20 s deadline


async def test_wait_reports_error_outcomes_too(wapi: Api) -> None:
    token = wapi.keys.token(["tester"])
    message_id = await wapi.push("waithold", {"seconds": 0.3, "fail": True}, token)
    resp = await wapi.get(f"/waithold/{message_id}?wait=20", token)
    assert resp.status == 200
    record = await resp.json()
    assert record["status"] == "ERROR"
    assert record["error"]["type"] == "RuntimeError"


async def test_wait_timeout_answers_the_current_state(wapi: Api, tmp_path: Path) -> None:
    token = wapi.keys.token(["tester"])
    release = tmp_path / "release"
    message_id = await wapi.push("waithold", {"release": str(release)}, token)
    started = time.monotonic()
    resp = await wapi.get(f"/waithold/{message_id}?wait=1.5", token)
    assert time.monotonic() - started >= 1.4  # it did wait
    assert resp.status == 200
    record = await resp.json()
    assert record["id"] == message_id
    assert record["status"] in ("PENDING", "INPROGRESS")
    touch(release)
    await wapi.wait_final("waithold", message_id, token)


async def test_delete_while_waiting_answers_404(wapi: Api, tmp_path: Path) -> None:
    token = wapi.keys.token(["tester"])
    release = tmp_path / "release"
    message_id = await wapi.push("waithold", {"release": str(release)}, token)
    waiting = asyncio.ensure_future(wapi.get(f"/waithold/{message_id}?wait=30", token))
    await wapi.until_waiting()
    assert not waiting.done()
    assert (await wapi.delete(f"/waithold/{message_id}", token)).status == 204
    resp = await asyncio.wait_for(waiting, 20)
    await error_list(resp, 404)
    touch(release)


@pytest.mark.parametrize("value", ["0", "-1", "61", "abc", "nan", "inf", ""])
async def test_bad_wait_values_answer_400(wapi: Api, value: str) -> None:
    token = wapi.keys.token(["tester"])
    message_id = await wapi.push("waithold", {}, token)
    errors = await error_list(await wapi.get(f"/waithold/{message_id}?wait={value}", token), 400)
    assert "wait" in str(errors[0])


async def test_wait_has_the_same_roles_as_get(wapi: Api, tmp_path: Path) -> None:
    token = wapi.keys.token(["tester"])
    message_id = await wapi.push("waithold", {}, token)
    resp = await wapi.get(f"/waithold/{message_id}?wait=5", wapi.keys.token(["other"]))
    await error_list(resp, 403)
    resp = await wapi.get(f"/waithold/{message_id}?wait=5")
    await error_list(resp, 401)
    resp = await wapi.get("/waithold/no-such-id?wait=5", token)
    await error_list(resp, 404)


@pytest.mark.parametrize("mode", ["embedded"], indirect=True)
async def test_a_thousand_waiters_on_one_slow_message_all_get_complete(
    wapi: Api, tmp_path: Path
) -> None:
    token = wapi.keys.token(["tester"])
    release = tmp_path / "release"
    message_id = await wapi.push("waithold", {"release": str(release)}, token)
    connector = aiohttp.TCPConnector(limit=2000)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def wait_one() -> tuple[int, Any]:
            async with session.get(
                f"{wapi.base}/waithold/{message_id}?wait=60",
                headers={"Authorization": f"Bearer {token}"},
            ) as resp:
                return resp.status, await resp.json()

        waiters = [asyncio.ensure_future(wait_one()) for _ in range(1000)]
        await wapi.until_waiting(1000)
        assert not any(w.done() for w in waiters)
        touch(release)
        answers = await asyncio.wait_for(asyncio.gather(*waiters), 50)
    assert len(answers) == 1000
    assert all(status == 200 for status, _ in answers)
    assert {record["status"] for _, record in answers} == {"COMPLETE"}
    assert {record["id"] for _, record in answers} == {message_id}


async def test_a_lost_event_only_delays_the_answer(
    wapi: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def lost(*_: Any) -> None:
        return None

    monkeypatch.setattr("shared.service.announce.Announcer.final", lost)  # no wake-up at all
    monkeypatch.setattr("shared.service.notify.RECHECK_SECONDS", 0.3)
    token = wapi.keys.token(["tester"])
    message_id = await wapi.push("waithold", {"seconds": 0.5}, token)
    resp = await wapi.get(f"/waithold/{message_id}?wait=30", token)
    assert resp.status == 200
    assert (await resp.json())["status"] == "COMPLETE"  # found by the store re-check


@pytest.mark.parametrize("mode", ["distributed"], indirect=True)
async def test_a_consumer_in_another_process_wakes_the_gateway_through_the_broker(
    queues_dir: Path,
    start_conveyor: StartConveyor,
    api_for: Callable[[Served], Api],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    add_wait_queues(queues_dir)
    monkeypatch.setattr(
        "shared.service.notify.RECHECK_SECONDS", 120.0
    )  # only the event can wake it
    front = api_for(await start_conveyor(queues=("echo",)))  # does not run waithold
    await start_conveyor()  # the one that runs waithold
    token = front.keys.token(["tester"])
    release = tmp_path / "release"
    message_id = await front.push("waithold", {"release": str(release)}, token)
    waiting = asyncio.ensure_future(front.get(f"/waithold/{message_id}?wait=60", token))
    await front.until_waiting()
    assert not waiting.done()
    touch(release)
    resp = await asyncio.wait_for(waiting, 30)  # the recheck would take 60 s
    assert resp.status == 200
    assert (await resp.json())["status"] == "COMPLETE"


def count_calls(monkeypatch: pytest.MonkeyPatch, obj: Any, method: str) -> list[str]:
    """The message ids ``obj.method`` is called with from now on (the call still happens:
    ``notify(message_id, ...)`` or the store read ``_get(queue, message_id)``)."""
    calls: list[str] = []
    original = getattr(obj, method)

    def spy(first: str, *args: Any) -> Any:
        calls.append(args[0] if method == "_get" else first)  # _get(queue, message_id)
        return original(first, *args)

    monkeypatch.setattr(obj, method, spy)
    return calls


async def test_a_completion_wakes_its_process_once(
    queues_dir: Path,
    start_conveyor: StartConveyor,
    api_for: Callable[[Served], Api],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # One announcer: embedded events are heard in-process (no second direct wake-up), and a
    # process drops its own RabbitMQ events when they come back.
    add_wait_queues(queues_dir)
    served = await start_conveyor()
    api = api_for(served)
    woken = count_calls(monkeypatch, served.runtime.notifier, "notify")
    token = api.keys.token(["tester"])
    message_id = await api.push("waithold", {}, token)
    await api.wait_final("waithold", message_id, token)
    await asyncio.sleep(0.5)  # an echo through the broker would have come back by now
    assert woken.count(message_id) == 1


@pytest.mark.parametrize("mode", ["distributed"], indirect=True)
async def test_delete_and_redrive_on_one_gateway_reach_waiters_on_another_at_once(
    queues_dir: Path,
    start_conveyor: StartConveyor,
    api_for: Callable[[Served], Api],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    add_wait_queues(queues_dir)
    monkeypatch.setattr("shared.service.notify.RECHECK_SECONDS", 120.0)  # only events wake
    front_served = await start_conveyor(queues=("echo",))  # neither runs waithold
    front, back = api_for(front_served), api_for(await start_conveyor(queues=("echo",)))
    token = front.keys.token(["tester"])

    # A delete on `back` answers a long poll on `front` at once (the re-check is 120 s away).
    pending = await back.push("waithold", {}, token)
    waiting = asyncio.ensure_future(front.get(f"/waithold/{pending}?wait=60", token))
    await front.until_waiting()
    assert not waiting.done()
    assert (await back.delete(f"/waithold/{pending}", token)).status == 204
    resp = await asyncio.wait_for(waiting, 30)
    assert resp.status == 404

    # A redrive on `back` is a change every gateway's event streams hear.
    runner = await start_conveyor(queues=("waithold",))
    failed = await back.push("waithold", {"fail": True}, token)
    assert (await back.wait_final("waithold", failed, token))["status"] == "ERROR"
    await runner.consumer.shutdown(1.0)  # nobody claims it again: only the redrive is heard
    heard = count_calls(monkeypatch, front_served.runtime.notifier, "notify_change")
    admin = front.keys.token(["waithold_admin"])
    resp = await back.post(f"waithold/{failed}/retry", None, admin)
    assert resp.status == 200, await resp.text()
    await wait_until(lambda: failed in heard, "the redrive heard on the other gateway", 30)


# --- POST /{queue}?wait=N: push and wait for the outcome in one request --------------------


async def post_wait(
    api: Api, path: str, body: Any, token: str, wait: str, **kw: Any
) -> aiohttp.ClientResponse:
    """``POST /{path}?wait=...`` (plus ``params``); the answer, read."""
    params = {"wait": wait, **kw.pop("params", {})}
    return await api.post(path, body, token, params=params, **kw)


async def test_post_wait_answers_with_the_complete_record(wapi: Api) -> None:
    token = wapi.keys.token(["tester"])
    resp = await post_wait(wapi, "waithold", {"seconds": 0.2}, token, "30")
    assert resp.status == 201, await resp.text()
    record = await resp.json()
    assert resp.headers["Location"] == f"/waithold/{record['id']}"
    assert record["status"] == "COMPLETE"
    assert record["result"] == {"done": True, "id": record["id"]}


async def test_post_wait_answers_with_the_error_record(wapi: Api) -> None:
    token = wapi.keys.token(["tester"])
    resp = await post_wait(wapi, "waithold", {"seconds": 0.2, "fail": True}, token, "30")
    assert resp.status == 201, await resp.text()
    record = await resp.json()
    assert record["status"] == "ERROR"
    assert record["error"] == {"type": "RuntimeError", "message": "asked to fail"}


async def test_post_wait_timeout_answers_the_current_state(wapi: Api, tmp_path: Path) -> None:
    token = wapi.keys.token(["tester"])
    release = tmp_path / "release"
    started = time.monotonic()
    resp = await post_wait(wapi, "waithold", {"release": str(release)}, token, "0.5")
    assert time.monotonic() - started >= 0.45  # it did wait
    assert resp.status == 201, await resp.text()
    record = await resp.json()
    assert record["status"] in ("PENDING", "INPROGRESS")
    assert resp.headers["Location"] == f"/waithold/{record['id']}"
    touch(release)
    assert (await wapi.wait_final("waithold", record["id"], token))["status"] == "COMPLETE"


async def test_post_wait_sees_a_completion_that_lands_before_it_registers(
    wapi: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The waiter registers after the push returned. Here the message is final before it
    # registers, and no completion event is sent at all: only the waiter's first read can see
    # it (the store re-check is 120 s away, the wait 60 s).
    from shared.service import waiting

    original = waiting.wait_for_final
    held_back: list[str] = []

    async def registers_late(notifier: Any, message_id: str, read: Any, seconds: float) -> Any:
        async def final() -> bool:
            record = await read()
            return record is not None and record.status.final

        await wait_until(final, "the message to finish before the waiter registers")
        held_back.append(message_id)
        return await original(notifier, message_id, read, seconds)

    async def lost(*_: Any) -> None:
        return None

    monkeypatch.setattr(waiting, "wait_for_final", registers_late)
    monkeypatch.setattr("shared.service.announce.Announcer.final", lost)
    monkeypatch.setattr("shared.service.notify.RECHECK_SECONDS", 120.0)
    token = wapi.keys.token(["tester"])
    resp = await asyncio.wait_for(post_wait(wapi, "waithold", {}, token, "60"), 30)
    assert resp.status == 201
    record = await resp.json()
    assert record["status"] == "COMPLETE"
    assert held_back == [record["id"]]


async def test_post_wait_on_an_idempotent_replay_answers_200_once_final(
    wapi: Api, tmp_path: Path
) -> None:
    token = wapi.keys.token(["tester"])
    release = tmp_path / "release"
    body = {"release": str(release)}
    headers = {"Idempotency-Key": "post-wait-1"}
    first = await wapi.post("waithold", body, token, headers=headers)
    assert first.status == 201, await first.text()
    message_id = (await first.json())["id"]
    replay = asyncio.ensure_future(post_wait(wapi, "waithold", body, token, "30", headers=headers))
    await wapi.until_waiting()  # the replay reached its wait for the original
    assert not replay.done()  # the original is held: the replay is waiting for it
    touch(release)
    resp = await asyncio.wait_for(replay, 20)
    assert resp.status == 200, await resp.text()
    assert resp.headers["Location"] == f"/waithold/{message_id}"
    record = await resp.json()
    assert (record["id"], record["status"]) == (message_id, "COMPLETE")


async def test_post_wait_with_delay_waits_out_the_time_then_answers_pending(wapi: Api) -> None:
    token = wapi.keys.token(["tester"])
    params = {"delay": "60"}
    started = time.monotonic()
    resp = await post_wait(wapi, "waithold", {}, token, "0.5", params=params)
    assert time.monotonic() - started >= 0.45  # it did wait
    assert resp.status == 201, await resp.text()
    record = await resp.json()
    assert record["status"] == "PENDING"
    assert record["not_before"] is not None


async def test_post_wait_with_a_short_delay_answers_once_it_ran(wapi: Api) -> None:
    token = wapi.keys.token(["tester"])
    resp = await post_wait(wapi, "waithold", {}, token, "30", params={"delay": "0.3"})
    assert resp.status == 201, await resp.text()
    record = await resp.json()
    assert record["status"] == "COMPLETE"


@pytest.mark.parametrize("value", ["0", "-1", "61", "60.0000001", "1e1", "abc", "nan", "inf", ""])
async def test_post_with_a_bad_wait_answers_400_and_pushes_nothing(wapi: Api, value: str) -> None:
    token = wapi.keys.token(["tester"])
    for path, body in (("waithold", {}), ("waithold/batch", [{}])):
        errors = await error_list(await post_wait(wapi, path, body, token, value), 400)
        assert "wait" in str(errors[0])
    listed = await wapi.get("/waithold", token)
    assert listed.status == 200
    assert (await listed.json())["items"] == []


async def test_batch_wait_gives_each_accepted_item_its_record(wapi: Api, tmp_path: Path) -> None:
    token = wapi.keys.token(["tester"])
    body = [{"seconds": 0.2}, {"fail": True}, "not an object"]
    resp = await post_wait(wapi, "waithold/batch", body, token, "30")
    assert resp.status == 207, await resp.text()
    done, failed, refused = (await resp.json())["items"]
    assert done["status"] == 201 and done["record"]["id"] == done["id"]
    assert done["location"] == f"/waithold/{done['id']}"
    assert done["record"]["status"] == "COMPLETE"
    assert failed["status"] == 201 and failed["record"]["status"] == "ERROR"
    assert failed["record"]["error"]["type"] == "RuntimeError"
    assert refused["status"] == 422 and "record" not in refused

    release = tmp_path / "release"
    held = [{}, {"release": str(release)}]
    resp = await post_wait(wapi, "waithold/batch", held, token, "0.5")
    assert resp.status == 207, await resp.text()
    quick, slow = (await resp.json())["items"]
    assert quick["record"]["id"] == quick["id"]
    assert slow["record"]["status"] in ("PENDING", "INPROGRESS")  # the deadline passed
    touch(release)
    await wapi.wait_final("waithold", slow["id"], token)

    plain = await wapi.post("waithold/batch", [{}], token)  # without wait: no record
    assert "record" not in (await plain.json())["items"][0]


@pytest.mark.parametrize("fail", [False, True], ids=["complete", "error"])
async def test_a_waited_get_answers_the_final_record_as_written_filtered_by_role(
    queues_dir: Path,
    start_conveyor: StartConveyor,
    api_for: Callable[[Served], Api],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    fail: bool,
) -> None:
    """The completion carries the final record (``shared.service.carried``): the woken
    waiters answer it without reading the store again, exactly as a read shows it. A record
    holding a traceback is never carried: its waiters read the store, and see the traceback
    only as the queue's admins."""
    add_wait_queues(queues_dir)
    served = await start_conveyor()
    api = api_for(served)
    writer, admin = api.keys.token(["tester"]), api.keys.token(["system_admin"])
    release = tmp_path / "release"
    body: dict[str, object] = (
        {"release": str(release), "fail": True} if fail else {"release": str(release)}
    )
    message_id = await api.push("waithold", body, writer)
    path = f"/waithold/{message_id}"
    reads = count_calls(monkeypatch, served.runtime.messaging, "_get")
    waiting = [asyncio.ensure_future(api.get(f"{path}?wait=30", t)) for t in (writer, admin)]
    await api.until_waiting(2)
    read = len(reads)
    assert 1 <= read <= 2  # one store read each, after registering (shared if concurrent)
    touch(release)
    shown = [await (await asyncio.wait_for(w, 20)).json() for w in waiting]
    if fail:  # not carried: the woken waiters read the store (shared if concurrent)
        assert read < len(reads) <= read + 2
    else:  # answered from the completion, not from another store read
        assert len(reads) == read
    after = len(reads)
    assert (await api.get(f"{path}?wait=30", writer)).status == 200
    assert len(reads) == after + 1  # final already: one read
    monkeypatch.undo()
    for token, waited in zip((writer, admin), shown, strict=True):
        resp = await api.get(path, token)
        assert resp.status == 200
        assert waited == await resp.json()  # what a read shows this caller, field for field
    if not fail:
        assert shown[0]["status"] == "COMPLETE"
        return
    assert shown[0]["status"] == "ERROR" and shown[0]["error"]["type"] == "RuntimeError"
    assert "traceback" not in shown[0]["error"]
    assert "asked to fail" in shown[1]["error"]["traceback"]
