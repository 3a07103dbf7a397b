"""``Idempotency-Key`` on ``POST /{queue}``, through the HTTP API in both modes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from conveyor.serve import Served
from shared.domain.idempotency import KEY_TTL, IdempotencyEntry, KeyState, body_hash, scope_of
from shared.domain.message import new_message_id, utcnow
from shared.ports import DeliveryUnavailable
from shared.service import idempotent_push as idempotency
from tests.support.api_client import Api, StartConveyor
from tests.support.queues import add_queue
from tests.support.responses import error_list

KEY = {"Idempotency-Key": "order-42"}
ZERO = timedelta(0)


async def test_a_replay_answers_200_with_the_original_message(api: Api) -> None:
    token = api.keys.token(["tester"])
    first = await api.post("echo", {"n": 1}, token, headers=KEY)
    assert first.status == 201, await first.text()
    created = await first.json()
    await api.wait_final("echo", created["id"], token)

    again = await api.post("echo", {"n": 1}, token, headers=KEY)
    assert again.status == 200, await again.text()
    assert again.headers["Location"] == first.headers["Location"] == f"/echo/{created['id']}"
    record = await again.json()
    assert record["id"] == created["id"]
    assert record["status"] == "COMPLETE"  # the current record, not the original answer
    assert record["attempts"] == 1


async def test_key_order_in_the_body_does_not_matter(api: Api) -> None:
    token = api.keys.token(["tester"])
    first = await api.post("echo", {"a": 1, "b": [1, 2]}, token, headers=KEY)
    assert first.status == 201
    again = await api.post("echo", {"b": [1, 2], "a": 1}, token, headers=KEY)
    assert again.status == 200
    assert (await again.json())["id"] == (await first.json())["id"]


async def test_the_same_key_with_another_body_is_422(api: Api) -> None:
    token = api.keys.token(["tester"])
    assert (await api.post("echo", {"n": 1}, token, headers=KEY)).status == 201
    errors = await error_list(await api.post("echo", {"n": 2}, token, headers=KEY), 422)
    assert "different body" in str(errors)


async def test_concurrent_duplicates_create_exactly_one_message(api: Api) -> None:
    token = api.keys.token(["tester"])
    answers = await asyncio.gather(
        *(api.post("echo", {"n": 7}, token, headers=KEY) for _ in range(20))
    )
    statuses = sorted(resp.status for resp in answers)
    assert statuses == [200] * 19 + [201], statuses
    ids = {(await resp.json())["id"] for resp in answers}
    assert len(ids) == 1
    locations = {resp.headers["Location"] for resp in answers}
    assert locations == {f"/echo/{ids.pop()}"}


async def test_keys_are_scoped_by_subject_and_queue(
    start_conveyor: StartConveyor, api_for: Callable[[Served], Api], queues_dir: Path
) -> None:
    add_queue(queues_dir, "echo2", roles={"roles": ["tester"]})
    api = api_for(await start_conveyor())
    alice, bob = api.keys.token(["tester"], sub="alice"), api.keys.token(["tester"], sub="bob")
    ids = set()
    for queue, token in [("echo", alice), ("echo", bob), ("echo2", alice)]:
        resp = await api.post(queue, {"n": 1}, token, headers=KEY)
        assert resp.status == 201, await resp.text()
        ids.add((await resp.json())["id"])
    assert len(ids) == 3
    replay = await api.post("echo2", {"n": 1}, alice, headers=KEY)
    assert replay.status == 200


async def test_auth_off_queues_keep_keys_per_client_address(api: Api) -> None:
    first = await api.post("open", {"n": 1}, headers=KEY)
    assert first.status == 201, await first.text()
    again = await api.post("open", {"n": 1}, headers=KEY)
    assert again.status == 200
    assert (await again.json())["id"] == (await first.json())["id"]


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there"])
async def test_a_malformed_key_is_400(api: Api, key: str) -> None:
    token = api.keys.token(["tester"])
    resp = await api.post("echo", {"n": 1}, token, headers={"Idempotency-Key": key})
    await error_list(resp, 400)


async def test_the_longest_key_is_accepted(api: Api) -> None:
    token = api.keys.token(["tester"])
    resp = await api.post("echo", {"n": 1}, token, headers={"Idempotency-Key": "~" * 255})
    assert resp.status == 201, await resp.text()


async def test_an_invalid_body_does_not_bind_the_key(api: Api) -> None:
    token = api.keys.token(["tester"])
    await error_list(await api.post("echo", [1], token, headers=KEY), 422)
    assert (await api.post("echo", {"n": 1}, token, headers=KEY)).status == 201


async def test_a_failed_push_releases_the_key(
    start_conveyor: StartConveyor,
    api_for: Callable[[Served], Api],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    served = await start_conveyor()
    api = api_for(served)
    token = api.keys.token(["tester"])
    delivery = served.runtime.delivery
    original = delivery.publish

    async def refuse(queue: str, message_id: str) -> None:
        raise DeliveryUnavailable("test: broker refuses")

    monkeypatch.setattr(delivery, "publish", refuse)
    failed = await api.post("echo", {"n": 1}, token, headers=KEY)
    await error_list(failed, 503)
    monkeypatch.setattr(delivery, "publish", original)

    retried = await api.post("echo", {"n": 1}, token, headers=KEY)
    assert retried.status == 201, await retried.text()
    record = await api.wait_final("echo", (await retried.json())["id"], token)
    assert record["status"] == "COMPLETE"


async def test_a_replay_of_a_deleted_message_is_409(api: Api) -> None:
    token = api.keys.token(["tester"])
    first = await api.post("echo", {"n": 1}, token, headers=KEY)
    assert first.status == 201
    assert (await api.delete(first.headers["Location"], token)).status == 204
    await error_list(await api.post("echo", {"n": 1}, token, headers=KEY), 409)


def held_key(
    queue: str, body: Any, *, age: timedelta, message_id: str | None = None
) -> IdempotencyEntry:
    """A RESERVED key of the test's default subject, as a push started ``age`` ago left it."""
    at = utcnow() - age
    return IdempotencyEntry(
        scope_of(queue, "sub:tester"),
        KEY["Idempotency-Key"],
        body_hash(body),
        message_id or new_message_id(),
        KeyState.RESERVED,
        at,
        at + KEY_TTL,
    )


async def test_a_push_still_in_progress_is_409_after_waiting(
    start_conveyor: StartConveyor,
    api_for: Callable[[Served], Api],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    served = await start_conveyor()
    api = api_for(served)
    monkeypatch.setattr(idempotency, "WAIT_SECONDS", 0.3)
    assert await served.runtime.store.reserve_key(held_key("echo", {"n": 1}, age=ZERO)) is None
    resp = await api.post("echo", {"n": 1}, api.keys.token(["tester"]), headers=KEY)
    await error_list(resp, 409)
    assert resp.headers["Retry-After"] == "1"


async def test_a_dead_push_without_a_record_is_taken_over(
    start_conveyor: StartConveyor, api_for: Callable[[Served], Api]
) -> None:
    served = await start_conveyor()
    api = api_for(served)
    dead = held_key("echo", {"n": 1}, age=timedelta(minutes=5))
    assert await served.runtime.store.reserve_key(dead) is None
    resp = await api.post("echo", {"n": 1}, api.keys.token(["tester"]), headers=KEY)
    assert resp.status == 201, await resp.text()
    assert (await resp.json())["id"] != dead.message_id


async def test_a_dead_push_whose_record_exists_is_replayed(
    start_conveyor: StartConveyor, api_for: Callable[[Served], Api]
) -> None:
    served = await start_conveyor()
    api = api_for(served)
    token = api.keys.token(["tester"])
    # The message made it (pushed without a key), then its gateway died before marking the key.
    mid = await api.push("echo", {"n": 1}, token)
    dead = held_key("echo", {"n": 1}, age=timedelta(minutes=5), message_id=mid)
    assert await served.runtime.store.reserve_key(dead) is None
    resp = await api.post("echo", {"n": 1}, token, headers=KEY)
    assert resp.status == 200, await resp.text()
    assert resp.headers["Location"] == f"/echo/{mid}"


async def test_an_idempotent_push_validates_the_body_once(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.domain.payloads import validation_errors
    from shared.service import pushing

    calls: list[Any] = []

    def counting(validator: Any, message: Any) -> list[dict[str, str]]:
        calls.append(message)
        return validation_errors(validator, message)

    monkeypatch.setattr(pushing, "validation_errors", counting)
    resp = await api.post("echo", {"n": 7}, api.keys.token(["tester"]), headers=KEY)
    assert resp.status == 201, await resp.text()
    assert calls == [{"n": 7}]
