"""``GET /metrics`` (Prometheus text format) in both modes, and the consumer's own
``--metrics-port`` server (what anonymous callers see: ``tests/api/test_health.py``)."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from conveyor.serve import Served
from shared.domain.message import Status, utcnow
from shared.platform.metrics import Metrics
from tests.support.api_client import Api, StartConveyor
from tests.support.brokers import RabbitNode
from tests.support.metrics import Samples, parse, value
from tests.support.paths import QUEUES_DIR
from tests.support.processes import clean_env
from tests.support.responses import error_list, parse_ts
from tests.support.services import delete_rabbit_queues, queue_prefix
from tests.support.sockets import free_port
from tests.support.waiting import wait_until, wait_until_sync


async def scrape(api: Api) -> Samples:
    """Every series, as a token with ``system_reader`` sees them."""
    resp = await api.get("/metrics", api.keys.token(["system_reader"]))
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return parse(await resp.text())


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


def label_names(samples: Samples, name: str) -> set[tuple[str, ...]]:
    """The label name sets the samples called ``name`` carry."""
    return {tuple(k for k, _ in labels) for sample, labels in samples if sample == name}


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


def assert_standard_series(samples: Samples) -> None:
    """The client library's process and Python collectors are there; no ``_created``."""
    names = {sample for sample, _ in samples}
    for expected in (
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_start_time_seconds",
        "process_open_fds",
        "python_gc_objects_collected_total",
        "python_gc_collections_total",
    ):
        assert expected in names, expected
    info = [dict(labels) for sample, labels in samples if sample == "python_info"]
    assert info and info[0]["implementation"] == "CPython", info
    assert not [n for n in names if n.endswith("_created")], sorted(names)


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


def test_consumer_process_serves_metrics_port(tmp_path: Path, rabbitmq: RabbitNode) -> None:
    # A consumer needs a broker (in-process delivery is `serve`'s): the shared one, under a
    # queue prefix of this test's own, deleted at the end.
    port, prefix = free_port(), queue_prefix("ptest")
    log_path = tmp_path / "consumer.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "conveyor", "consumer", "--metrics-port", str(port)],
            env=clean_env(
                CONVEYOR_STORE=f"sqlite:///{tmp_path / 'c.db'}",
                CONVEYOR_HANDLERS=str(QUEUES_DIR),
                CONVEYOR_BROKER=rabbitmq.url,
                CONVEYOR_QUEUE_PREFIX=prefix,
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:

            def scraped() -> tuple[int, str] | None:
                assert proc.poll() is None, log_path.read_text()
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1) as r:
                        return r.status, r.read().decode()
                except OSError:
                    return None

            status, text = wait_until_sync(
                scraped, f"the consumer's metrics on :{port}", 30, detail=log_path.read_text
            )
            assert status == 200
            samples = parse(text)
            assert value(samples, "conveyor_queue_depth", queue="echo") == 0
            assert_standard_series(samples)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                assert (r.status, json.loads(r.read())) == (200, {"status": "ok"})
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as r:
                ready = json.loads(r.read())
                assert r.status == 200 and ready["status"] == "ready", ready
                assert "echo" in ready["queues"], ready
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 0, log_path.read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            names = [p.name.removesuffix(".queue.json") for p in QUEUES_DIR.glob("*.queue.json")]
            asyncio.run(delete_rabbit_queues(rabbitmq.url, prefix, names))


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
