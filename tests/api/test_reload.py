"""Hot reload: editing, adding or removing queue files in ``--handlers`` takes effect in a
running Conveyor (polling, or on request), per queue, keeping the last good version of a
queue whose edit is broken (SIGHUP on real processes: tests/process/test_reload_signals.py).

Handlers come from tests/fixtures/queues/reload (``versioned_v1.py``/``versioned_v2.py``: they
return their version, optionally holding the message until the test releases it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conveyor.serve import Served
from tests.support.api_client import Api, StartConveyor
from tests.support.handler_files import exists, touch
from tests.support.queues import add_versioned, definition, versioned, write_json
from tests.support.responses import error_list
from tests.support.services import delete_rabbit_queues
from tests.support.waiting import wait_until

INTERVAL = 0.2
ROLES = {"roles": ["tester"]}
BROKEN_HANDLER = 'async def handle(message, ctx) ->\n    return {"version": "broken"}\n'


async def start(start_conveyor: StartConveyor, **overrides: Any) -> Served:
    return await start_conveyor(reload_interval_seconds=INTERVAL, **overrides)


async def run(api: Api, queue: str, body: Any, token: str) -> dict[str, Any]:
    """POST and wait for the final record."""
    return await api.wait_final(queue, await api.push(queue, body, token), token)


async def until_version(api: Api, queue: str, token: str, version: int) -> None:
    """Push messages until one completes with ``version`` (the reload is applied)."""

    async def served() -> bool:
        record = await run(api, queue, {}, token)
        assert record["status"] == "COMPLETE", record
        return bool(record["result"] == {"version": version})

    await wait_until(served, f"/{queue} to run version {version}")


async def until_status(api: Api, queue: str, token: str, status: int) -> None:
    """POST ``{}`` until the answer is ``status``."""

    async def answered() -> int | None:
        resp = await api.post(queue, {}, token)
        return resp.status if resp.status == status else None

    await wait_until(answered, f"POST /{queue} to answer {status}")


async def until_logged(caplog: pytest.LogCaptureFixture, text: str, since: int) -> None:
    """Wait for a log record (after the ``since``-th) containing ``text``."""
    await wait_until(
        lambda: any(text in r.getMessage() for r in caplog.records[since:]), f"log {text!r}"
    )


@pytest.fixture
def token(api_for: Any) -> Callable[[Served], tuple[Api, str]]:
    """The client and a tester token for a started Conveyor."""

    def make(served: Served) -> tuple[Api, str]:
        api: Api = api_for(served)
        return api, api.keys.token(["tester"])

    return make


async def test_changed_handler_serves_new_messages_while_in_flight_keeps_its_code(
    start_conveyor: StartConveyor, token: Any, queues_dir: Path, tmp_path: Path
) -> None:
    add_versioned(queues_dir, "ver", 1)
    api, tok = token(await start(start_conveyor))
    assert (await run(api, "ver", {}, tok))["result"] == {"version": 1}
    marker, release = tmp_path / "started", tmp_path / "release"
    held = await api.push("ver", {"marker": str(marker), "release": str(release)}, tok)
    await wait_until(lambda: exists(marker), "the held message to start")

    versioned(queues_dir, "ver", 2)
    await until_version(api, "ver", tok, 2)
    touch(release)
    record = await api.wait_final("ver", held, tok)
    assert record["status"] == "COMPLETE", record
    assert record["result"] == {"version": 1}, "the in-flight message changed code"
    assert (await run(api, "echo", {"n": 1}, tok))["status"] == "COMPLETE"


async def test_added_queue_is_served_and_consumed(
    start_conveyor: StartConveyor, token: Any, queues_dir: Path
) -> None:
    api, tok = token(await start(start_conveyor))
    error = await error_list(await api.post("fresh", {}, tok), 404)
    assert "fresh" in str(error)

    add_versioned(queues_dir, "fresh", 2)
    await until_status(api, "fresh", tok, 201)
    record = await run(api, "fresh", {}, tok)
    assert record["status"] == "COMPLETE" and record["result"] == {"version": 2}, record
    assert (await run(api, "echo", {"n": 1}, tok))["status"] == "COMPLETE"


async def test_removed_queue_answers_404_and_can_come_back(
    start_conveyor: StartConveyor, token: Any, queues_dir: Path
) -> None:
    served = await start(start_conveyor)
    api, tok = token(served)
    done = await api.push("echo", {"n": 0}, tok)
    assert (await api.wait_final("echo", done, tok))["status"] == "COMPLETE"
    saved = {
        suffix: (queues_dir / f"echo{suffix}").read_bytes() for suffix in (".queue.json", ".py")
    }
    for suffix in saved:
        (queues_dir / f"echo{suffix}").unlink()
    try:
        await until_status(api, "echo", tok, 404)
        await error_list(await api.get(f"/echo/{done}", tok), 404)
        assert (await run(api, "slow", {"seconds": 0}, tok))["status"] == "COMPLETE"

        for suffix, content in saved.items():
            (queues_dir / f"echo{suffix}").write_bytes(content)
        await until_status(api, "echo", tok, 201)
        record = await run(api, "echo", {"n": 2}, tok)
        assert record["status"] == "COMPLETE" and record["result"]["echo"] == {"n": 2}, record
    finally:
        settings = served.runtime.settings
        if settings.broker is not None and not (queues_dir / "echo.queue.json").exists():
            await delete_rabbit_queues(settings.broker, settings.queue_prefix, ["echo"])


async def test_broken_definition_keeps_last_good_until_fixed(
    start_conveyor: StartConveyor,
    token: Any,
    queues_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="shared.queues.reload")
    add_versioned(queues_dir, "ver", 1)
    api, tok = token(await start(start_conveyor))
    seen = len(caplog.records)
    (queues_dir / "ver.queue.json").write_text('{"name": "ver", "incoming": ')
    await until_logged(caplog, "queue ver kept at its last good version", seen)
    assert any("ver.queue.json" in r.getMessage() for r in caplog.records[seen:])
    assert (await run(api, "ver", {}, tok))["result"] == {"version": 1}

    seen = len(caplog.records)
    definition(queues_dir, "ver", {"$schema": "nope", "type": 12})
    await until_logged(caplog, "queue ver kept at its last good version", seen)
    assert (await run(api, "ver", {}, tok))["result"] == {"version": 1}

    definition(queues_dir, "ver", {"type": "object", "required": ["x"]})
    await until_status(api, "ver", tok, 422)
    record = await run(api, "ver", {"x": 1}, tok)
    assert record["status"] == "COMPLETE" and record["result"] == {"version": 1}, record


async def test_broken_handler_keeps_last_good_until_fixed(
    start_conveyor: StartConveyor,
    token: Any,
    queues_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="shared.queues.reload")
    add_versioned(queues_dir, "ver", 1)
    api, tok = token(await start(start_conveyor))
    seen = len(caplog.records)
    (queues_dir / "ver.py").write_text(BROKEN_HANDLER)
    await until_logged(caplog, "queue ver kept at its last good version", seen)
    assert any("SyntaxError" in r.getMessage() for r in caplog.records[seen:])
    assert (await api.post("ver", {}, tok)).status == 201
    assert (await run(api, "ver", {}, tok))["result"] == {"version": 1}

    versioned(queues_dir, "ver", 2)
    await until_version(api, "ver", tok, 2)


async def test_queues_flag_limits_what_an_added_queue_starts(
    start_conveyor: StartConveyor, token: Any, queues_dir: Path
) -> None:
    """With ``--queues``, a queue added outside the list is accepted but not consumed."""
    served = await start(start_conveyor, queues=("echo", "wanted"))
    api, tok = token(served)
    add_versioned(queues_dir, "wanted", 1)
    add_versioned(queues_dir, "unwanted", 1)
    await until_status(api, "wanted", tok, 201)
    await until_status(api, "unwanted", tok, 201)
    assert (await run(api, "wanted", {}, tok))["status"] == "COMPLETE"
    assert sorted(served.consumer.queues) == ["echo", "wanted"]
    pending = await api.push("unwanted", {}, tok)
    await asyncio.sleep(0.5)
    resp = await api.get(f"/unwanted/{pending}", tok)
    assert (await resp.json())["status"] == "PENDING"


async def test_polling_off_reloads_only_when_asked(
    start_conveyor: StartConveyor, token: Any, queues_dir: Path
) -> None:
    add_versioned(queues_dir, "ver", 1)
    served = await start_conveyor(reload_interval_seconds=0)
    api, tok = token(served)
    versioned(queues_dir, "ver", 2)
    await asyncio.sleep(3 * INTERVAL)
    assert (await run(api, "ver", {}, tok))["result"] == {"version": 1}
    served.reloader.request()
    await until_version(api, "ver", tok, 2)


# --- a result's expiry ------------------------------------------------------------------


def ttl_definition(queues_dir: Path, name: str, ttl: float) -> None:
    """``<name>.queue.json`` with ``result_ttl_seconds`` (the versioned handler beside it)."""
    document = {"name": name, "roles": ROLES, "result_ttl_seconds": ttl, "incoming": {"schema": {}}}
    write_json(queues_dir / f"{name}.queue.json", document)


@pytest.mark.parametrize("mode", ["embedded"], indirect=True)
async def test_an_in_flight_message_keeps_the_expiry_of_the_definition_it_started_with(
    start_conveyor: StartConveyor, token: Any, queues_dir: Path, tmp_path: Path
) -> None:
    versioned(queues_dir, "ttl", 1)
    ttl_definition(queues_dir, "ttl", 3600)
    api, tok = token(await start(start_conveyor))
    marker, release = tmp_path / "started", tmp_path / "release"
    held = await api.push("ttl", {"marker": str(marker), "release": str(release)}, tok)
    await wait_until(lambda: exists(marker), "the held message to start")

    ttl_definition(queues_dir, "ttl", 1)  # results of new messages now expire after 1 s
    versioned(queues_dir, "ttl", 2)  # lets the test see when the reload is applied
    await until_version(api, "ttl", tok, 2)
    touch(release)
    assert (await api.wait_final("ttl", held, tok))["status"] == "COMPLETE"

    # A message finished after the held one, under the new definition, does expire ...
    fresh_id = str((await run(api, "ttl", {}, tok))["id"])

    async def fresh_gone() -> bool:  # result_ttl_seconds 1; the expiry sweep runs every 2 s
        return bool((await api.get(f"/ttl/{fresh_id}", tok)).status == 404)

    await wait_until(fresh_gone, "the new definition's 1 s expiry", interval=0.2)
    # ... the held one, finished earlier, kept the 3600 s of the definition it started with.
    assert (await api.get(f"/ttl/{held}", tok)).status == 200
