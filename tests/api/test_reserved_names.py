"""Reserved queue names (``shared.queues.definitions.RESERVED_NAMES``), in both modes: a
definition with one is a load error naming the route (in ``GET /queues``' ``load_errors``,
never served), and ``GET /<name>`` answers the gateway's own endpoint, not a queue."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from conveyor.serve import Served
from gateway.routes import ROUTES
from shared.queues.definitions import RESERVED_NAMES
from tests.support.api_client import Api, StartConveyor
from tests.support.queues import add_queue

#: The reserved names whose endpoint this gateway serves (``/batches`` comes
#: with its feature; tests/unit/gateway/routes/test_order.py keeps the lists in step).
SERVED = sorted(n for n in RESERVED_NAMES if any(r.path == f"/{n}" for r in ROUTES))
#: What each fixed endpoint answers a system_admin with: (status, content type).
ANSWERS = {
    "healthz": (200, "application/json"),
    "readyz": (200, "application/json"),
    "metrics": (200, "text/plain"),
    "docs": (200, "text/html"),
    "queues": (200, "application/json"),
    "workers": (200, "application/json"),
    "audit": (200, "application/json"),
    "ui": (200, "text/html"),
}


def test_every_served_reserved_name_has_an_expected_answer() -> None:
    assert set(SERVED) == set(ANSWERS)


async def test_a_reserved_name_is_a_load_error_and_its_route_answers(
    queues_dir: Path, start_conveyor: StartConveyor, api_for: Callable[[Served], Api]
) -> None:
    for name in RESERVED_NAMES:
        add_queue(queues_dir, name)
    api = api_for(await start_conveyor())
    admin = api.keys.token(["system_admin"])

    listed = await (await api.get("/queues", admin)).json()
    assert not {q["name"] for q in listed["queues"]} & set(RESERVED_NAMES)
    for name, route in RESERVED_NAMES.items():
        reason = f"name {name!r} is reserved for the gateway's own {route}"
        assert any(e.endswith(reason) for e in listed["load_errors"]), (name, listed)

    for name in SERVED:
        response = await api.get(f"/{name}", admin)
        body = await response.text()
        assert (response.status, response.content_type) == ANSWERS[name], (name, body[:300])
        assert "unknown queue" not in body.lower(), name
