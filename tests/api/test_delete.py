"""Deleting a message: while PENDING it never runs; while INPROGRESS the handler's result
does not bring it back. The ``gate`` handler holds a message until the test releases it, so
the order of events is the test's, not the clock's."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conveyor.serve import Served
from tests.support.api_client import Api, StartConveyor
from tests.support.handler_files import exists, touch
from tests.support.queues import add_queue
from tests.support.responses import error_list
from tests.support.waiting import wait_until


class Gate:
    """Files of one test's gate messages."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.release = root / "release"

    def marker(self, name: str) -> Path:
        return self.root / f"{name}.started"

    def done(self, name: str) -> Path:
        return self.root / f"{name}.done"

    def message(self, name: str) -> dict[str, Any]:
        return {
            "marker": str(self.marker(name)),
            "release": str(self.release),
            "done": str(self.done(name)),
        }


@pytest.fixture
async def gate_api(
    queues_dir: Path, start_conveyor: StartConveyor, api_for: Callable[[Served], Api]
) -> Api:
    """One message at a time on ``gate``."""
    add_queue(queues_dir, "gate", handler="gate", roles={"roles": ["tester"]})
    return api_for(await start_conveyor(concurrency=1))


async def test_delete_while_pending_means_it_never_runs(gate_api: Api, tmp_path: Path) -> None:
    api, gate = gate_api, Gate(tmp_path)
    token = api.keys.token(["tester"])
    first = await api.push("gate", gate.message("first"), token)
    await wait_until(lambda: exists(gate.marker("first")), "the first message to start")

    second = await api.push("gate", gate.message("second"), token)
    status = (await (await api.get(f"/gate/{second}", token)).json())["status"]
    assert status == "PENDING", "the only slot is busy with the first message"
    assert (await api.delete(f"/gate/{second}", token)).status == 204
    await error_list(await api.get(f"/gate/{second}", token), 404)

    third = await api.push("gate", gate.message("third"), token)
    touch(gate.release)
    # one at a time, in order: once the third is done, the second had its turn
    assert (await api.wait_final("gate", first, token))["status"] == "COMPLETE"
    assert (await api.wait_final("gate", third, token))["status"] == "COMPLETE"
    assert not exists(gate.marker("second")), "the deleted message ran"
    await error_list(await api.get(f"/gate/{second}", token), 404)


async def test_delete_while_inprogress_is_not_undone_by_the_result(
    gate_api: Api, tmp_path: Path
) -> None:
    api, gate = gate_api, Gate(tmp_path)
    token = api.keys.token(["tester"])
    running = await api.push("gate", gate.message("running"), token)
    await wait_until(lambda: exists(gate.marker("running")), "the message to start")
    record = await (await api.get(f"/gate/{running}", token)).json()
    assert record["status"] == "INPROGRESS"
    assert record["attempts"] == 1

    assert (await api.delete(f"/gate/{running}", token)).status == 204
    await error_list(await api.get(f"/gate/{running}", token), 404)

    # let the handler finish; the next message runs only after the first one's outcome
    # was dealt with (one slot), so once it is final, the result write has been tried
    follower = await api.push("gate", gate.message("follower"), token)
    touch(gate.release)
    await wait_until(lambda: exists(gate.done("running")), "the handler to finish")
    assert (await api.wait_final("gate", follower, token))["status"] == "COMPLETE"

    await error_list(await api.get(f"/gate/{running}", token), 404)
    await error_list(await api.delete(f"/gate/{running}", token), 404)


async def test_delete_of_a_finished_message(api: Api) -> None:
    token = api.keys.token(["tester"])
    for queue in ("echo", "fail"):
        message_id = await api.push(queue, {"x": 1}, token)
        await api.wait_final(queue, message_id, token)
        assert (await api.delete(f"/{queue}/{message_id}", token)).status == 204
        await error_list(await api.get(f"/{queue}/{message_id}", token), 404)


async def test_delete_needs_the_id_on_that_queue(api: Api) -> None:
    token = api.keys.token(["tester"])
    message_id = await api.push("echo", {}, token)
    await error_list(await api.delete(f"/fail/{message_id}", token), 404)
    assert (await api.get(f"/echo/{message_id}", token)).status == 200
