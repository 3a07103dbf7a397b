"""``GET /{queue}/stats``: the runs consumers counted per minute, over HTTP in both modes.

Messages of a flaky queue (``fixtures/queues/retry/flaky.py``, two attempts) complete at
once, after one retry, or fail twice; once the consumer flushed its rollups (every 0.2 s
here), the endpoint answers their counts and run-time quantiles.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from conveyor.serve import Served
from tests.support.api_client import Api, StartConveyor
from tests.support.queues import add_retry_queue
from tests.support.responses import error_list
from tests.support.waiting import wait_until

COUNTERS = ("completed", "failed", "cancelled", "retried", "runs")


async def totals(api: Api, queue: str, token: str) -> dict[str, int]:
    resp = await api.get(f"/{queue}/stats?minutes=5", token)
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["queue"] == queue and body["minutes"] == 5 and 0 < body["quantile_error"] < 0.05
    series: list[dict[str, Any]] = body["series"]
    assert len(series) <= 5 and [p["minute"] for p in series] == sorted(p["minute"] for p in series)
    for point in series:
        assert point["runs"] == 0 or 0 < point["p50_ms"] <= point["p95_ms"]
    return {name: sum(p[name] for p in series) for name in COUNTERS}


async def test_stats_count_completions_failures_and_retries_per_minute(
    queues_dir: Path, start_conveyor: StartConveyor, api_for: Callable[[Served], Api]
) -> None:
    add_retry_queue(queues_dir, "s", "flaky", max_attempts=2, retry_backoff_seconds=0.05)
    api = api_for(await start_conveyor(rollup_flush_seconds=0.2))
    token = api.keys.token(["system_admin"])
    assert await totals(api, "s", token) == dict.fromkeys(COUNTERS, 0)
    ids = [await api.push("s", {"succeed_on": n}, token) for n in (1, 1, 1, 2, 9, 9)]
    for message_id in ids:
        await api.wait_final("s", message_id, token)
    expected = {"completed": 4, "failed": 2, "cancelled": 0, "retried": 3, "runs": 9}
    last: list[dict[str, int]] = []

    async def flushed() -> bool:
        last[:] = [await totals(api, "s", token)]
        return last[0] == expected

    await wait_until(flushed, "the rollups of 9 runs", detail=lambda: last)


async def test_stats_refuse_a_bad_window_an_unknown_queue_and_other_roles(api: Api) -> None:
    token = api.keys.token(["system_admin"])
    for bad in ("0", "361", "abc", "-1"):
        errors = await error_list(await api.get(f"/echo/stats?minutes={bad}", token), 400)
        assert "minutes" in errors[0]
    await error_list(await api.get("/nosuchqueue/stats", token), 404)
    await error_list(await api.get("/echo/stats", api.keys.token(["nobody"])), 403)
    await error_list(await api.get("/echo/stats"), 401)
    assert (await api.get("/echo/stats", api.keys.token(["tester"]))).status == 200
