"""The suite's shared state: sizes, the signing keys, and where each measurement is recorded.

A measurement is ``(row, metric) -> [one value per run]`` with a unit; :class:`Bench` keeps
them in the order recorded, plus the load generator each row used and free-text notes.
"""

from __future__ import annotations

import dataclasses
import statistics
from dataclasses import dataclass, field
from typing import Any

from bench.common import Keys
from bench.topology import TOPOLOGIES


@dataclass(frozen=True)
class Sizes:
    """How much each benchmark does; the defaults are issue 10's."""

    runs: int = 3
    duration: float = 10.0  # seconds of wrk per throughput run (ceilings, push)
    e2e_messages: int = 20_000
    latency_seconds: float = 30.0
    latency_rate: float = 50.0  # messages per second
    scale_messages: int = 5_000
    memory_messages: int = 100_000
    waiters: int = 10_000
    raw_messages: int = 20_000
    observed_messages: int = 5_000


FULL = Sizes()
QUICK = Sizes(
    duration=3, e2e_messages=2_000, latency_seconds=5, scale_messages=500,
    memory_messages=5_000, waiters=1_000, raw_messages=2_000, observed_messages=1_000,
)  # fmt: skip
TINY = Sizes(
    runs=1, duration=1, e2e_messages=200, latency_seconds=1, scale_messages=100,
    memory_messages=300, waiters=20, raw_messages=200, observed_messages=200,
)  # fmt: skip


@dataclass
class Metric:
    unit: str
    values: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "unit": self.unit,
            "values": self.values,
            "median": statistics.median(self.values),
            "min": min(self.values),
            "max": max(self.values),
        }


@dataclass
class Bench:
    """What a benchmark function gets: sizes, keys, topologies to run, and the recorder."""

    sizes: Sizes
    keys: Keys
    topologies: tuple[str, ...] = TOPOLOGIES
    rows: dict[str, dict[str, Metric]] = field(default_factory=dict)
    generators: dict[str, str] = field(default_factory=dict)

    def record(self, row: str, metric: str, value: float, unit: str, generator: str) -> None:
        """Append one run's ``value`` of ``row``/``metric``."""
        self.rows.setdefault(row, {}).setdefault(metric, Metric(unit)).values.append(value)
        self.generators[row] = generator

    def median(self, row: str, metric: str) -> float | None:
        found = self.rows.get(row, {}).get(metric)
        return statistics.median(found.values) if found and found.values else None

    def as_json(self) -> dict[str, Any]:
        return {
            "sizes": dataclasses.asdict(self.sizes),
            "rows": {
                row: {
                    "generator": self.generators.get(row, ""),
                    "metrics": {m: v.summary() for m, v in metrics.items()},
                }
                for row, metrics in self.rows.items()
            },
        }
