"""The gateway's route table (``gateway.routes.ROUTES``): every fixed path is registered
before the ``/{queue}`` patterns, and every fixed path whose first segment could be a queue
name is a reserved name, refused in a definition (``shared.queues.definitions``)."""

from __future__ import annotations

from gateway.routes import ROUTES
from shared.queues.definitions import NAME_RE, RESERVED_NAMES


def first_segment(path: str) -> str:
    return path.lstrip("/").split("/", 1)[0]


def test_every_fixed_route_comes_before_the_queue_patterns() -> None:
    first_pattern = next(i for i, r in enumerate(ROUTES) if r.path.startswith("/{"))
    late = [f"{r.method} {r.path}" for r in ROUTES[first_pattern:] if not r.path.startswith("/{")]
    assert late == [], "registered after a /{queue} pattern, so a queue could shadow them"


def test_every_fixed_path_a_queue_could_be_named_is_reserved() -> None:
    segments = {first_segment(r.path) for r in ROUTES if not r.path.startswith("/{")}
    could_be_queues = {s for s in segments if NAME_RE.match(s)}
    assert could_be_queues, "the table has fixed paths"
    assert could_be_queues - set(RESERVED_NAMES) == set()


def test_each_reserved_name_names_its_own_route() -> None:
    assert {name: route.split(" ")[1] for name, route in RESERVED_NAMES.items()} == {
        name: f"/{name}" for name in RESERVED_NAMES
    }
