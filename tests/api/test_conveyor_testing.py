"""``conveyor.testing.FakeMessaging`` answers like the ``ctx.messaging`` of a running Conveyor:
the same push through both, compared (the fake alone: ``tests/unit/conveyor/test_testing.py``)."""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

import pytest

from conveyor import ValidationFailed
from conveyor.serve import Served
from conveyor.testing import FakeMessaging
from tests.support.api_client import Api, StartConveyor
from tests.support.paths import SEED_HANDLERS_DIR
from tests.support.queues import add_queue, add_seed_queue
from tests.support.responses import RECORD_FIELDS, error_list

SEED = SEED_HANDLERS_DIR / "myQueue.queue.json"


@pytest.fixture
async def pusher_api(
    queues_dir: Path, start_conveyor: StartConveyor, api_for: typing.Callable[[Served], Api]
) -> Api:
    add_queue(queues_dir, "pusher", handler="pusher", roles={"roles": ["tester"]})
    add_seed_queue(queues_dir)
    return api_for(await start_conveyor())


async def test_fake_pushes_answer_like_the_real_ctx_messaging(pusher_api: Api) -> None:
    """The pusher handler's ``ctx.messaging`` on a running Conveyor, then FakeMessaging over
    the same definition: the same record fields and values, the same schema errors."""
    api, token = pusher_api, pusher_api.keys.token(["tester"])

    async def real(op: dict[str, Any]) -> Any:
        record = await api.wait_final("pusher", await api.push("pusher", op, token), token)
        assert record["status"] == "COMPLETE", record
        return record["result"]

    fake = FakeMessaging(SEED)
    body, bad = {"hello": "x"}, {"hello": 5, "extra": True}
    pushed = (await real({"op": "push", "queue": "myQueue", "body": body}))["pushed"]
    faked = await fake.push("myQueue", body)
    assert set(pushed) == set(faked) == RECORD_FIELDS
    same = ("status", "request", "result", "error", "attempts", "not_before", "version")
    assert {k: pushed[k] for k in same} == {k: faked[k] for k in same}
    assert [h["status"] for h in pushed["history"]] == [h["status"] for h in faked["history"]]
    assert set(pushed["history"][0]) == set(faked["history"][0])

    rejected = (await real({"op": "push", "queue": "myQueue", "body": bad}))["rejected"]
    with pytest.raises(ValidationFailed) as failed:
        await fake.push("myQueue", bad)
    assert failed.value.errors == rejected
    assert rejected == await error_list(
        await api.post("myQueue", bad, api.keys.token(["one"])), 422
    )
