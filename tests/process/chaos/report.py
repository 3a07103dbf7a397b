"""The printed summary of a chaos run: the invariants first, then one line per outage and a
summary of the consumer kills."""

from __future__ import annotations

import statistics
from collections.abc import Iterator

from tests.process.chaos.faults import KILL
from tests.process.chaos.run import Options, Outcome
from tests.process.chaos.verdict import FaultRow


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f} s"


def _kills(rows: list[FaultRow]) -> Iterator[str]:
    work = [r.work_recovered_after for r in rows if r.work_recovered_after is not None]
    yield f"  consumer kill -9: {len(rows)} kills, each restarted at once"
    if work:
        yield (
            f"    the new consumer's first run after: median {statistics.median(work):.1f} s, "
            f"max {max(work):.1f} s ({len(rows) - len(work)} never ran one)"
        )


def render(options: Options, outcome: Outcome) -> str:
    v = outcome.verdict
    lines = [
        f"chaos run: {options.messages} messages at {options.rate:g}/s, {options.consumers} "
        f"consumers, store {options.store}, lease {options.lease_seconds:g} s; "
        f"pushing {outcome.push_seconds:.0f} s, whole run {outcome.seconds:.0f} s",
        f"  run directory: {options.workdir}",
        "",
        f"pushed              {v.pushed}",
        f"accepted (201)      {v.accepted}",
        f"answers             {', '.join(f'{k}: {n}' for k, n in v.answers.items())}",
        f"final               COMPLETE {v.complete}, ERROR {v.error}",
        f"lost                {len(v.lost)}",
        f"stuck               {len(v.stuck)}",
        f"concurrent runs     {len(v.concurrent)}",
        f"handler runs        {v.runs}",
        f"run more than once  {v.run_more_than_once}",
    ]
    lines += [f"  {n} x {why}" for why, n in sorted(v.rerun_reasons.items())]
    lines += [
        f"runs of messages never acknowledged with 201: {v.runs_not_acknowledged}",
        f"consumer exits      {', '.join(f'{k}: {n}' for k, n in v.consumer_exits.items())}",
        "",
        "faults (503s and no-answers from the fault to the first 201 after it is undone):",
    ]
    kills = [r for r in v.faults if r.kind == KILL]
    for row in v.faults:
        if row.kind != KILL:
            lines.append(
                f"  {row.kind:18} lasted {row.lasted:5.1f} s: {row.answers_503:3} x 503, "
                f"{row.no_answer:3} no answer; pushes back after "
                f"{_seconds(row.push_recovered_after)}, runs back after "
                f"{_seconds(row.work_recovered_after)}"
            )
    lines += list(_kills(kills))
    lines.append("")
    if v.failures:
        lines += ["INVARIANTS BROKEN:", *(f"  {f}" for f in v.failures)]
    else:
        lines.append("all invariants hold: lost 0, stuck 0, concurrent runs 0")
    return "\n".join(lines)
