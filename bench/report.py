"""The printed table and issue 10's targets, judged on medians measured in the same run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.suite import Bench
from bench.topology import TOPOLOGIES


@dataclass(frozen=True)
class Target:
    """``value(bench)`` compared with ``limit``: ``>=`` (or ``<`` when ``below``)."""

    name: str
    value: Callable[[Bench], float | None]
    limit: float
    below: bool = False

    def judge(self, bench: Bench) -> dict[str, Any] | None:
        value = self.value(bench)
        if value is None:
            return None
        met = value < self.limit if self.below else value >= self.limit
        return {"target": self.name, "value": value, "limit": self.limit, "met": met}


def _ratio(
    row: str, metric: str, base_row: str, base_metric: str = "rate"
) -> Callable[[Bench], float | None]:
    def value(bench: Bench) -> float | None:
        top, bottom = bench.median(row, metric), bench.median(base_row, base_metric)
        return top / bottom if top is not None and bottom else None

    return value


def _median(row: str, metric: str) -> Callable[[Bench], float | None]:
    return lambda bench: bench.median(row, metric)


def targets() -> list[Target]:
    """Issue 10 section 2, one line per checkable target."""
    found = [
        Target("push / http-ceiling >= 0.5", _ratio("push", "rate", "http-ceiling"), 0.5),
        Target(
            "push / auth-schema-ceiling >= 1", _ratio("push", "rate", "auth-schema-ceiling"), 1.0
        ),
        Target(
            "e2e embedded / http-ceiling >= 0.4",
            _ratio("e2e/embedded", "rate", "http-ceiling"),
            0.4,
        ),
        Target(
            "e2e broker / http-ceiling >= 0.3", _ratio("e2e/broker", "rate", "http-ceiling"), 0.3
        ),
    ]
    for topo in TOPOLOGIES:
        found.append(
            Target(
                f"e2e-batch {topo} / e2e {topo} >= 2",
                _ratio(f"e2e-batch/{topo}", "rate", f"e2e/{topo}"),
                2.0,
            )
        )
    for topo in TOPOLOGIES:
        found.append(
            Target(
                f"latency {topo} p50 <= 5 ms", _median(f"latency/{topo}", "p50"), 5.0001, below=True
            )
        )
        found.append(
            Target(
                f"latency {topo} p99 <= 20 ms",
                _median(f"latency/{topo}", "p99"),
                20.0001,
                below=True,
            )
        )
    found += [
        Target("scale 2 consumers / 1 >= 1.5", _ratio("scale/2", "rate", "scale/1"), 1.5),
        Target("memory growth < 10 MB", _median("memory", "growth"), 10.0, below=True),
        Target("waiters cost < 100 MB", _median("memory", "waiters cost"), 100.0, below=True),
        Target("push with waiters / without >= 0.9", _median("memory", "push ratio"), 0.9),
    ]
    return found


def verdicts(bench: Bench) -> list[dict[str, Any]]:
    return [v for t in targets() if (v := t.judge(bench)) is not None]


def _fmt(value: float) -> str:
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def table(bench: Bench, meta: dict[str, Any]) -> str:
    """A Markdown table (median and min-max per metric), the environment and the verdicts."""
    lines = [
        f"{meta['cores']} cores; Python {meta['python']}, aiohttp {meta['aiohttp']}, "
        f"RabbitMQ {meta['rabbitmq']}, {meta['wrk']}; event loop {meta['event_loop']}; "
        f"load average {meta['load_before']} before, {meta['load_after']} after; "
        f"{bench.sizes.runs} run(s) each",
        "",
        "| benchmark | metric | median | min - max | unit | load generator |",
        "|---|---|---|---|---|---|",
    ]
    for row, metrics in bench.rows.items():
        for name, metric in metrics.items():
            s = metric.summary()
            lines.append(
                f"| {row} | {name} | {_fmt(s['median'])} | {_fmt(s['min'])} - {_fmt(s['max'])} "
                f"| {metric.unit} | {bench.generators.get(row, '')} |"
            )
    lines += ["", "| target | measured | verdict |", "|---|---|---|"]
    for v in verdicts(bench):
        verdict = "met" if v["met"] else "MISSED"
        lines.append(f"| {v['target']} | {_fmt(v['value'])} | {verdict} |")
    return "\n".join(lines)
