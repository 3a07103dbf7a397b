"""Queue pause and resume through HTTP, in both modes: admin roles only (401/403 for
others), idempotent answers with the first pause's time and subject, ``GET /queues`` shows
the state, and a paused queue's messages are parked (``PENDING``, ``delivery: parked``,
unrun) until the resume, after which each runs exactly once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from conveyor.serve import Served, serving
from shared.platform.settings import Settings
from tests.support.api_client import Api, StartConveyor
from tests.support.metrics import scrape, value
from tests.support.paths import QUEUES_DIR
from tests.support.queues import add_queue
from tests.support.responses import error_list
from tests.support.services import delete_rabbit_queues
from tests.support.waiting import wait_until

WRITER = ["tester"]


async def control(api: Api, queue: str, action: str, token: str | None) -> aiohttp.ClientResponse:
    resp = await api.session.post(f"{api.base}/{queue}/{action}", headers=api.auth(token))
    await resp.read()
    return resp


async def answer(api: Api, queue: str, action: str, token: str) -> dict[str, Any]:
    resp = await control(api, queue, action, token)
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


async def pause_of(api: Api, queue: str, token: str) -> dict[str, Any]:
    resp = await api.get("/queues", token)
    assert resp.status == 200, await resp.text()
    (found,) = [q for q in (await resp.json())["queues"] if q["name"] == queue]
    pause: dict[str, Any] = found["pause"]
    return pause


async def test_only_admins_pause_and_resume(api: Api) -> None:
    writer = api.keys.token(WRITER, sub="w")
    other_admin = api.keys.token(["echo_admin"], sub="e")
    for action in ("pause", "resume"):
        assert (await control(api, "runlog", action, None)).status == 401
        assert (await control(api, "runlog", action, writer)).status == 403
        assert (await control(api, "runlog", action, other_admin)).status == 403
        assert (await control(api, "nosuchqueue", action, writer)).status == 404
    assert (await pause_of(api, "runlog", api.keys.token(["system_admin"])))["paused"] is False


async def test_pause_and_resume_are_idempotent_and_shown(api: Api) -> None:
    alice = api.keys.token(["runlog_admin"], sub="alice")
    root = api.keys.token(["system_admin"], sub="root")
    first = await answer(api, "runlog", "pause", alice)
    assert set(first) == {"queue", "paused", "paused_at", "paused_by"}
    assert (first["queue"], first["paused"], first["paused_by"]) == ("runlog", True, "alice")
    assert first["paused_at"].endswith("Z")
    assert await answer(api, "runlog", "pause", root) == first  # the first pause stays
    assert await pause_of(api, "runlog", root) == first
    assert (await pause_of(api, "echo", root))["paused"] is False
    resumed = {"queue": "runlog", "paused": False, "paused_at": None, "paused_by": None}
    assert await answer(api, "runlog", "resume", root) == resumed
    assert await answer(api, "runlog", "resume", alice) == resumed
    assert await pause_of(api, "runlog", root) == resumed
    entries = (await (await api.get("/audit?queue=runlog", root)).json())["items"]
    actions = sorted((e["subject"], e["action"]) for e in entries)
    assert actions == [
        ("alice", "pause"),
        ("alice", "resume"),
        ("root", "pause"),
        ("root", "resume"),
    ]


def runs(log: Path) -> list[str]:
    return [line.split()[0] for line in log.read_text().splitlines()] if log.exists() else []


async def test_a_paused_queue_parks_its_messages_until_resumed(api: Api, tmp_path: Path) -> None:
    writer = api.keys.token(WRITER)
    admin = api.keys.token(["runlog_admin"], sub="ops")
    log = tmp_path / "runs.log"
    before = await api.push("runlog", {"log": str(log)}, writer)
    await api.wait_final("runlog", before, writer)
    await answer(api, "runlog", "pause", admin)
    ids = [await api.push("runlog", {"log": str(log)}, writer) for _ in range(5)]

    async def all_parked() -> bool:
        for mid in ids:
            record = await (await api.get(f"/runlog/{mid}", writer)).json()
            if (record["status"], record["delivery"]) != ("PENDING", "parked"):
                return False
        return True

    await wait_until(all_parked, "every message pushed while paused to be parked")
    assert runs(log) == [before]
    await answer(api, "runlog", "resume", admin)
    for mid in ids:
        assert (await api.wait_final("runlog", mid, writer))["status"] == "COMPLETE"
    assert sorted(runs(log)) == sorted([before, *ids])  # each exactly once


async def test_a_refusing_queue_answers_503_while_paused(
    start_conveyor: StartConveyor, api_for: Callable[[Served], Api], queues_dir: Path
) -> None:
    add_queue(queues_dir, "refusing", roles={"roles": WRITER}, when_paused="refuse")
    api = api_for(await start_conveyor())
    writer = api.keys.token(WRITER)
    admin = api.keys.token(["refusing_admin"], sub="ops")
    await answer(api, "refusing", "pause", admin)
    for path, body in (("refusing", {}), ("refusing/batch", [{}, {}])):
        resp = await api.post(path, body, writer)
        (message,) = await error_list(resp, 503)
        assert resp.headers["Retry-After"].isdigit()
        assert "refusing is paused" in message
    resp = await api.post("runlog", {"log": "/dev/null"}, writer)  # accepting: recorded
    assert resp.status == 201
    await answer(api, "refusing", "resume", admin)
    mid = await api.push("refusing", {}, writer)
    assert (await api.wait_final("refusing", mid, writer))["status"] == "COMPLETE"


async def test_a_pause_survives_a_restart_and_shows_in_the_metrics(
    base_settings: Settings, api_for: Callable[[Served], Api], tmp_path: Path
) -> None:
    log = tmp_path / "runs.log"
    try:
        await restarted_while_paused(base_settings, api_for, log)
    finally:
        if base_settings.broker is not None:
            names = [p.name.removesuffix(".queue.json") for p in QUEUES_DIR.glob("*.queue.json")]
            await delete_rabbit_queues(base_settings.broker, base_settings.queue_prefix, names)


async def restarted_while_paused(
    base_settings: Settings, api_for: Callable[[Served], Api], log: Path
) -> None:
    async with serving(base_settings) as first:
        api = api_for(first)
        admin = api.keys.token(["runlog_admin"], sub="ops")
        paused = await answer(api, "runlog", "pause", admin)
        assert value(await scrape(api), "conveyor_queue_paused", queue="runlog") == 1
    async with serving(base_settings) as second:
        api = api_for(second)
        writer, root = api.keys.token(WRITER), api.keys.token(["system_admin"])
        assert await pause_of(api, "runlog", root) == paused
        assert value(await scrape(api), "conveyor_queue_paused", queue="runlog") == 1
        mid = await api.push("runlog", {"log": str(log)}, writer)

        async def parked() -> bool:
            record = await (await api.get(f"/runlog/{mid}", writer)).json()
            return bool(record["delivery"] == "parked")

        await wait_until(parked, "the message pushed after the restart to be parked")
        await answer(api, "runlog", "resume", admin)
        assert value(await scrape(api), "conveyor_queue_paused", queue="runlog") == 0
        assert (await api.wait_final("runlog", mid, writer))["status"] == "COMPLETE"
    assert runs(log) == [mid]


async def test_a_delayed_message_waits_then_parks_while_paused(api: Api, tmp_path: Path) -> None:
    writer = api.keys.token(WRITER)
    admin = api.keys.token(["runlog_admin"], sub="ops")
    log = tmp_path / "runs.log"
    await answer(api, "runlog", "pause", admin)
    resp = await api.post("runlog", {"log": str(log)}, writer, params={"delay": "1"})
    assert resp.status == 201, await resp.text()
    record = await resp.json()
    assert record["delivery"] == "delayed"

    async def parked() -> bool:
        got = await (await api.get(f"/runlog/{record['id']}", writer)).json()
        return bool(got["delivery"] == "parked")

    await wait_until(parked, "the delayed message, once due, to be parked")
    assert runs(log) == []
    await answer(api, "runlog", "resume", admin)
    assert (await api.wait_final("runlog", record["id"], writer))["status"] == "COMPLETE"
    assert runs(log) == [record["id"]]
