"""``POST /{queue}/batch``: 207 with one result per item, in both modes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from conveyor.serve import Served
from tests.support.api_client import Api, StartConveyor
from tests.support.metrics import parse, value
from tests.support.queues import add_queue
from tests.support.responses import error_list

SCHEMA = {
    "type": "object",
    "properties": {"n": {"type": "integer"}},
    "required": ["n"],
}


async def post_batch(
    api: Api, queue: str, items: Any, token: str | None, **headers: str
) -> aiohttp.ClientResponse:
    resp = await api.session.post(
        f"{api.base}/{queue}/batch", json=items, headers={**api.auth(token), **headers}
    )
    await resp.read()
    return resp


async def results(resp: aiohttp.ClientResponse) -> list[dict[str, Any]]:
    assert resp.status == 207, await resp.text()
    body = await resp.json()
    assert set(body) == {"items"}
    items: list[dict[str, Any]] = body["items"]
    return items


@pytest.fixture
async def numbers(
    start_conveyor: StartConveyor, api_for: Callable[[Served], Api], queues_dir: Path
) -> Api:
    add_queue(queues_dir, "numbers", schema=SCHEMA, roles={"roles": ["tester"]})
    return api_for(await start_conveyor(batch_max_items=5))


async def test_mixed_items_answer_in_order_and_valid_ones_run(numbers: Api) -> None:
    api = numbers
    token = api.keys.token(["tester"])
    items: Sequence[Any] = [{"n": 1}, {"n": "two"}, {"n": 3}, "four", {"n": 5}]
    answers = await results(await post_batch(api, "numbers", items, token))
    assert [a["status"] for a in answers] == [201, 422, 201, 422, 201]
    assert answers[1]["errors"] and answers[3]["errors"]
    assert "$.n" in str(answers[1]["errors"])
    created = [a for a in answers if a["status"] == 201]
    assert len({a["id"] for a in created}) == 3
    for answer, item in zip(created, [items[0], items[2], items[4]], strict=True):
        assert set(answer) == {"status", "id", "location"}
        assert answer["location"] == f"/numbers/{answer['id']}"
        record = await api.wait_final("numbers", answer["id"], token)
        assert record["status"] == "COMPLETE"
        assert record["request"] == item
        assert record["result"]["echo"] == item
    metrics = parse(await (await api.get("/metrics", api.keys.token(["system_reader"]))).text())
    assert value(metrics, "conveyor_pushes_total", queue="numbers", code="201") == 3
    assert value(metrics, "conveyor_pushes_total", queue="numbers", code="422") == 2


async def test_more_items_than_allowed_is_413(numbers: Api) -> None:
    token = numbers.keys.token(["tester"])
    resp = await post_batch(numbers, "numbers", [{"n": i} for i in range(6)], token)
    await error_list(resp, 413)
    resp = await post_batch(numbers, "numbers", [{"n": i} for i in range(5)], token)
    assert [a["status"] for a in await results(resp)] == [201] * 5


@pytest.mark.parametrize("body", [{"n": 1}, [], "x"])
async def test_a_body_that_is_not_a_non_empty_array_is_422(numbers: Api, body: Any) -> None:
    token = numbers.keys.token(["tester"])
    await error_list(await post_batch(numbers, "numbers", body, token), 422)


async def test_authentication_and_roles_are_checked_once(numbers: Api) -> None:
    await error_list(await post_batch(numbers, "numbers", [{"n": 1}], None), 401)
    other = numbers.keys.token(["someone_else"])
    await error_list(await post_batch(numbers, "numbers", [{"n": 1}], other), 403)
    await error_list(await post_batch(numbers, "nosuchqueue", [{"n": 1}], other), 404)


async def test_idempotency_key_is_refused_on_batches(numbers: Api) -> None:
    token = numbers.keys.token(["tester"])
    resp = await post_batch(numbers, "numbers", [{"n": 1}], token, **{"Idempotency-Key": "k"})
    await error_list(resp, 400)


async def test_items_whose_publish_failed_are_503_and_removed(
    start_conveyor: StartConveyor,
    api_for: Callable[[Served], Api],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    served = await start_conveyor()
    api = api_for(served)
    token = api.keys.token(["tester"])
    delivery = served.runtime.delivery
    original = delivery.publish_many
    calls: list[list[str]] = []

    async def lose_the_second(queue: str, message_ids: Sequence[str]) -> set[str]:
        calls.append(list(message_ids))
        failed = await original(queue, [m for i, m in enumerate(message_ids) if i != 1])
        return failed | {message_ids[1]}

    monkeypatch.setattr(delivery, "publish_many", lose_the_second)
    answers = await results(await post_batch(api, "echo", [{"a": 1}, {"b": 2}, {"c": 3}], token))
    assert [a["status"] for a in answers] == [201, 503, 201]
    assert len(calls) == 1 and len(calls[0]) == 3  # one delivery window for the batch
    lost = calls[0][1]
    await error_list(await api.get(f"/echo/{lost}", token), 404)
    for answer in (answers[0], answers[2]):
        assert (await api.wait_final("echo", answer["id"], token))["status"] == "COMPLETE"
