"""What ``/readyz`` and ``/metrics`` reveal, in both modes: without a token (or with one that
does not verify) no queue name, on the API port; with a reader or admin role, and on
``--metrics-port``, the queues, the failing parts' reasons and every series."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import aiohttp

from conveyor.serve import Served
from tests.support.api_client import Api, StartConveyor
from tests.support.metrics import parse, value
from tests.support.queues import add_queue
from tests.support.responses import error_list
from tests.support.sockets import free_port

#: A queue name that appears nowhere else, so finding it anywhere in a body is a leak.
SECRET = "hushq7x"
#: The roles that see queue names.
READER_ROLES = ("system_admin", "system_reader", "queue_admin", "queue_reader")


async def secret_api(
    queues_dir: Path, start_conveyor: StartConveyor, api_for: Callable[[Served], Api]
) -> Api:
    """A Conveyor with the queue :data:`SECRET`, which has processed one message and
    refused one anonymous push (so every per-queue series has a sample for it)."""
    add_queue(queues_dir, SECRET)
    api = api_for(await start_conveyor())
    tester = api.keys.token(["system_writer"])
    await api.wait_final(SECRET, await api.push(SECRET, {"n": 1}, tester), tester)
    assert (await api.post(SECRET, {"n": 2})).status == 401
    return api


def outsider_tokens(api: Api) -> dict[str, str | None]:
    """Callers who must learn no queue name, by what they send."""
    return {
        "no token": None,
        "garbage": "garbage",
        "expired reader": api.keys.token(["system_admin"], ttl=-3600),
        "writer": api.keys.token(["tester", "system_writer", f"{SECRET}_writer"]),
    }


async def test_anonymous_readyz_and_metrics_name_no_queue_but_readers_see_them(
    queues_dir: Path,
    start_conveyor: StartConveyor,
    api_for: Callable[[Served], Api],
) -> None:
    api = await secret_api(queues_dir, start_conveyor, api_for)

    for who, token in outsider_tokens(api).items():
        ready = await api.get("/readyz", token)
        assert ready.status == 200, (who, await ready.text())
        assert await ready.json() == {"status": "ready"}, who
        metrics = await api.get("/metrics", token)
        assert metrics.status == 200, (who, await metrics.text())
        text = await metrics.text()
        assert SECRET not in text and "queue=" not in text, (who, text)
        assert "conveyor_http_request_duration_seconds" in text, who  # the rest is there
        assert "process_cpu_seconds_total" in text, who

    for role in READER_ROLES:
        token = api.keys.token([role])
        ready = await api.get("/readyz", token)
        assert ready.status == 200, (role, await ready.text())
        body = await ready.json()
        assert body["status"] == "ready" and SECRET in body["queues"], (role, body)
        metrics = await api.get("/metrics", token)
        samples = parse(await metrics.text())
        assert value(samples, "conveyor_pushes_total", queue=SECRET, code="201") == 1, role
        assert value(samples, "conveyor_queue_depth", queue=SECRET) == 0, role
        assert ("conveyor_queue_depth", (("queue", SECRET),)) in samples, role


async def test_a_failing_part_is_named_without_its_reason_to_outsiders(
    start_conveyor: StartConveyor,
    api_for: Callable[[Served], Api],
) -> None:
    port = free_port()
    served = await start_conveyor(metrics_port=port)
    api = api_for(served)
    await served.runtime.store.close()

    for who, token in outsider_tokens(api).items():
        resp = await api.get("/readyz", token)
        assert resp.headers.get("Retry-After") == "1", who
        assert await error_list(resp, 503) == ["store unavailable"], who
    reader = await api.get("/readyz", api.keys.token(["queue_reader"]))
    errors = await error_list(reader, 503)
    assert errors == ["store: store is not open"], errors
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/readyz") as resp,
    ):
        body = await resp.json(content_type=None)
        assert resp.status == 503 and resp.headers["Retry-After"] == "1", body
        assert resp.content_type == "application/problem+json", body
        assert [e["message"] for e in body["errors"]] == ["store: store is not open"], body


async def test_the_metrics_port_serves_readyz_and_every_series_to_anyone(
    queues_dir: Path,
    start_conveyor: StartConveyor,
    api_for: Callable[[Served], Api],
) -> None:
    add_queue(queues_dir, SECRET)
    port = free_port()
    api = api_for(await start_conveyor(metrics_port=port))
    tester = api.keys.token(["system_writer"])
    await api.wait_final(SECRET, await api.push(SECRET, {"n": 1}, tester), tester)
    # Off the API port: there /metrics is just a queue name nobody has.
    await error_list(await api.get("/metrics", api.keys.token(["system_admin"])), 404)
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base}/readyz") as resp:
            body = await resp.json()
            assert resp.status == 200 and body["status"] == "ready", body
            assert SECRET in body["queues"], body
        async with session.get(f"{base}/metrics") as resp:
            samples = parse(await resp.text())
            assert value(samples, "conveyor_pushes_total", queue=SECRET, code="201") == 1
        async with session.get(f"{base}/healthz") as resp:
            assert (resp.status, await resp.json()) == (200, {"status": "ok"})
