"""``GET /metrics`` (Prometheus text format) in both modes, and the gateway's metrics on a port
of their own (what anonymous callers see: ``tests/api/test_health.py``; the consumer
process's ``--metrics-port``: ``tests/process/test_metrics_ports.py``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp

from conveyor.serve import Served
from shared.domain.message import Status, utcnow
from shared.platform.metrics import Metrics
from tests.support.api_client import Api, StartConveyor
from tests.support.metrics import assert_standard_series, label_names, parse, scrape, value
from tests.support.responses import error_list, parse_ts
from tests.support.sockets import free_port
from tests.support.waiting import wait_until


async def test_metrics_count_pushes_outcomes_and_auth_failures(api: Api) -> None:
    before = await scrape(api)
    assert value(before, "conveyor_pushes_total", queue="echo", code="201") == 0
    tester = api.keys.token(["tester"])
    ids = [await api.push("echo", {"n": n}, tester) for n in range(3)]
    for message_id in ids:
        await api.wait_final("echo", message_id, tester)
    failed = await api.push("fail", {}, tester)
    await api.wait_final("fail", failed, tester)
    assert (await api.post("echo", {"n": 1})).status == 401
    assert (await api.post("echo", {"n": 1}, "garbage")).status == 401
    assert (await api.post("echo", {"n": 1}, api.keys.token(["nobody"]))).status == 403
    assert (await api.post("nosuchqueue", {"n": 1}, tester)).status == 404

    after = await scrape(api)
    assert value(after, "conveyor_pushes_total", queue="echo", code="201") == 3
    assert value(after, "conveyor_pushes_total", queue="echo", code="401") == 2
    assert value(after, "conveyor_pushes_total", queue="echo", code="403") == 1
    assert not any(labels and dict(labels).get("queue") == "nosuchqueue" for _, labels in after)
    assert value(after, "conveyor_messages_finished_total", queue="echo", status="COMPLETE") == 3
    assert value(after, "conveyor_messages_finished_total", queue="fail", status="ERROR") == 1
    assert value(after, "conveyor_handler_duration_seconds_count", queue="echo") == 3
    assert value(after, "conveyor_handlers_in_flight", queue="echo") == 0
    assert value(after, "conveyor_auth_failures_total", reason="missing_token") == 1
    assert value(after, "conveyor_auth_failures_total", reason="invalid_token") == 1
    assert value(after, "conveyor_auth_failures_total", reason="forbidden") == 1
    assert value(after, "conveyor_queue_depth", queue="echo") == 0
    assert ("conveyor_oldest_pending_age_seconds", (("queue", "echo"),)) in after
    assert label_names(after, "conveyor_pushes_total") == {("code", "queue")}


async def test_request_durations_by_route_template_method_and_code(api: Api) -> None:
    tester = api.keys.token(["tester"])
    message_id = await api.push("echo", {"n": 1}, tester)
    assert (await api.get(f"/echo/{message_id}", tester)).status == 200
    assert (await api.get("/echo/no-such-id", tester)).status == 404
    assert (await api.get("/healthz")).status == 200
    assert (await api.get("/no/such/path/here")).status == 404
    put = await api.session.put(f"{api.base}/echo/{message_id}")
    assert put.status == 405
    webdav = await api.session.request("PROPFIND", f"{api.base}/echo")
    assert webdav.status == 405

    samples = await scrape(api)
    name = "conveyor_http_request_duration_seconds"
    count = f"{name}_count"
    assert value(samples, count, route="/{queue}", method="POST", code="201") == 1
    assert value(samples, count, route="/{queue}/{id}", method="GET", code="200") == 1
    assert value(samples, count, route="/{queue}/{id}", method="GET", code="404") == 1
    assert value(samples, count, route="/healthz", method="GET", code="200") == 1
    assert value(samples, count, route="unmatched", method="GET", code="404") == 1
    assert value(samples, count, route="unmatched", method="PUT", code="405") == 1
    assert value(samples, count, route="unmatched", method="other", code="405") == 1
    assert value(samples, f"{name}_bucket", route="/healthz", method="GET", code="200", le="+Inf")
    assert value(samples, f"{name}_sum", route="/healthz", method="GET", code="200") > 0
    assert label_names(samples, count) == {("code", "method", "route")}
    assert label_names(samples, f"{name}_bucket") == {("code", "le", "method", "route")}
    routes = {dict(labels)["route"] for sample, labels in samples if sample == count}
    assert not any(message_id in route or "no-such" in route for route in routes), routes


async def test_process_and_python_collectors_and_no_created_series(api: Api) -> None:
    await api.push("echo", {"n": 1}, api.keys.token(["tester"]))
    assert_standard_series(await scrape(api))


async def test_queue_depth_and_oldest_age_are_cached(
    start_conveyor: StartConveyor, api_for: Callable[[Served], Api]
) -> None:
    served = await start_conveyor(concurrency=1, grace_seconds=0.5)
    api = api_for(served)
    first = await scrape(api)
    assert value(first, "conveyor_queue_depth", queue="slow") == 0
    tester = api.keys.token(["tester"])
    # One runs (concurrency 1), the others wait PENDING.
    ids = [await api.push("slow", {"seconds": 30, "n": n}, tester) for n in range(3)]
    cached = await scrape(api)  # within the cache period: the depth read before the pushes
    assert value(cached, "conveyor_queue_depth", queue="slow") == 0

    async def record(message_id: str) -> dict[str, Any]:
        found: dict[str, Any] = await (await api.get(f"/slow/{message_id}", tester)).json()
        return found

    async def first_running() -> bool:
        return bool((await record(ids[0]))["status"] == "INPROGRESS")

    await wait_until(first_running, "the first slow message to start")
    served.runtime.metrics.cache_seconds = 0
    before = utcnow()  # whole milliseconds, like the time the metric is computed at
    fresh = await scrape(api)
    after = datetime.now(UTC)
    records = [await record(message_id) for message_id in ids]
    assert [r["status"] for r in records] == ["INPROGRESS", "PENDING", "PENDING"], records
    assert value(fresh, "conveyor_queue_depth", queue="slow") == 2
    assert value(fresh, "conveyor_handlers_in_flight", queue="slow") == 1
    # The oldest PENDING message is the second one pushed; its age at the scrape:
    oldest = parse_ts(records[1]["created_at"])
    age = value(fresh, "conveyor_oldest_pending_age_seconds", queue="slow")
    assert (before - oldest).total_seconds() <= age <= (after - oldest).total_seconds(), age


def test_retries_and_dead_letters_are_exposed() -> None:
    metrics = Metrics()
    metrics.retried("q")
    metrics.retried("q")
    metrics.dead_lettered("q")
    metrics.finished("q", Status.COMPLETE, 0.2)
    metrics.finished("q", Status.PENDING, 0.2)  # a run that will be retried: not finished
    samples = parse(metrics.exposition().decode())
    assert value(samples, "conveyor_retries_total", queue="q") == 2
    assert value(samples, "conveyor_dead_letters_total", queue="q") == 1
    assert value(samples, "conveyor_handler_duration_seconds_bucket", queue="q", le="0.25") == 2
    assert value(samples, "conveyor_messages_finished_total", queue="q", status="COMPLETE") == 1
    assert value(samples, "conveyor_messages_finished_total", queue="q", status="PENDING") == 0
    # Separate instances do not share a registry (no global state).
    assert value(parse(Metrics().exposition().decode()), "conveyor_retries_total", queue="q") == 0


async def test_gateway_metrics_can_move_off_the_api_port(
    start_conveyor: StartConveyor, api_for: Callable[[Served], Api]
) -> None:
    port = free_port()
    served = await start_conveyor(metrics_port=port)
    api = api_for(served)
    # Not served on the API port: there it is just an unknown queue.
    await error_list(await api.get("/metrics", api.keys.token(["system_admin"])), 404)
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/metrics") as resp,
    ):
        assert resp.status == 200
        assert "conveyor_" in await resp.text()
