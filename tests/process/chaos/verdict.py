"""The invariants of a chaos run, computed from what the client saw, the records the API
returns at the end, the handler's run log and the harness's own fault and kill times.

Held invariants (a run fails if any is broken):

- lost = 0: every message answered 201 has a record at the end;
- stuck = 0: every such record is final (``COMPLETE``/``ERROR``) by the end of the settle time;
- concurrent = 0: no two runs of one message overlap in time (a run cut by ``kill -9`` ends
  when the harness sent the signal);
- every ``COMPLETE`` message has a run that finished;
- every answer to a push is 201 or 503 (no answer at all is allowed while the gateway is down).

Reported, not held: messages run more than once and why (the run before was cut by a kill,
cancelled because its lease could not be renewed, or finished but its result was not stored),
``ERROR`` records (``DeliveryLimitExceeded`` after too many cut runs), and runs of messages the
client never saw accepted (their 503 or lost answer came after the record was written).
"""

from __future__ import annotations

import collections
import dataclasses
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.process.chaos.cluster import Exit
from tests.process.chaos.faults import KILL, Fault
from tests.process.chaos.load import NO_ANSWER, Push


@dataclasses.dataclass(frozen=True)
class Run:
    """One handler run from the run log; ``end`` None if it never wrote its end line."""

    message_id: str
    pid: int
    start: float
    end: float | None
    cancelled: bool


def read_runs(path: Path) -> list[Run]:
    """The runs in the handler's log (``<id> <pid> <start> -|<end> [cancelled]`` lines)."""
    started: dict[tuple[str, int, str], None] = {}
    ended: dict[tuple[str, int, str], tuple[float, bool]] = {}
    text = path.read_text() if path.exists() else ""
    for line in text.splitlines():
        message_id, pid, start, end, *rest = line.split()
        key = (message_id, int(pid), start)
        if end == "-":
            started[key] = None
        else:
            ended[key] = (float(end), rest == ["cancelled"])
    runs = []
    for key in {**started, **dict.fromkeys(ended)}:
        end_at, cancelled = ended.get(key, (None, False))
        runs.append(Run(key[0], key[1], float(key[2]), end_at, cancelled))
    return sorted(runs, key=lambda r: r.start)


@dataclasses.dataclass
class FaultRow:
    """One fault as reported: answers inside its window and how long recovery took."""

    kind: str
    began: float
    lasted: float
    answers_503: int
    no_answer: int
    push_recovered_after: float | None  # from the restore to the first 201 pushed after it
    work_recovered_after: float | None  # from the restore to the first run started after it


@dataclasses.dataclass
class Verdict:
    pushed: int
    accepted: int
    answers: dict[str, int]
    complete: int
    error: int
    lost: list[str]
    stuck: list[str]
    concurrent: list[str]
    completed_without_run: list[str]
    unexpected_answers: int
    runs: int
    run_more_than_once: int
    rerun_reasons: dict[str, int]
    runs_not_acknowledged: int
    consumer_exits: dict[str, int]
    faults: list[FaultRow]
    failures: list[str] = dataclasses.field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _effective_end(run: Run, ends: dict[int, float]) -> float:
    if run.end is not None:
        return run.end
    return ends.get(run.pid, math.inf)  # a run never ended: its process ended, or still open


def concurrent_messages(runs: list[Run], ends: dict[int, float]) -> list[str]:
    """Messages two of whose runs overlap in time (``ends``: pid -> when that process ended,
    which closes the runs it left open)."""
    by_message: dict[str, list[Run]] = collections.defaultdict(list)
    for run in runs:
        by_message[run.message_id].append(run)
    found = []
    for message_id, mine in by_message.items():
        latest_end = -math.inf
        for run in sorted(mine, key=lambda r: r.start):
            if run.start < latest_end:
                found.append(message_id)
                break
            latest_end = max(latest_end, _effective_end(run, ends))
    return found


def rerun_reasons(runs: list[Run], kills: dict[int, float]) -> collections.Counter[str]:
    """Why each run after a message's first happened: what became of the run before it."""
    reasons: collections.Counter[str] = collections.Counter()
    previous: dict[str, Run] = {}
    for run in runs:
        before = previous.get(run.message_id)
        previous[run.message_id] = run
        if before is None:
            continue
        killed = before.pid in kills
        if before.end is None:
            reasons["killed mid-run (kill -9)" if killed else "previous run never ended"] += 1
        elif before.cancelled:
            reasons["cancelled: lease not renewable (store outage)"] += 1
        elif killed and kills[before.pid] >= before.end:
            reasons["finished, killed before its result was stored"] += 1
        else:
            reasons["finished, result not stored (store or broker outage)"] += 1
    return reasons


def fault_rows(faults: list[Fault], pushes: list[Push], runs: list[Run]) -> list[FaultRow]:
    rows = []
    outages = sorted((f for f in faults if f.kind != KILL), key=lambda f: f.began)
    for fault in sorted(faults, key=lambda f: f.began):
        following = [f.began for f in outages if f.began > fault.began]
        accepted_after = [p.done for p in pushes if p.status == 201 and p.sent >= fault.restored]
        push_back = min(accepted_after, default=None)
        if fault.kind == KILL:  # the new consumer's first run
            starts = [r.start for r in runs if r.pid == fault.replacement]
            starts = starts if fault.replacement is not None else []
        else:
            starts = [r.start for r in runs if r.start >= fault.restored]
        work_back = min(starts, default=None)
        window_end = min([push_back or math.inf, *following])  # not into the next outage
        inside = [p for p in pushes if fault.began <= p.done <= window_end]
        rows.append(
            FaultRow(
                fault.kind,
                fault.began,
                fault.restored - fault.began,
                sum(p.status == 503 for p in inside),
                sum(p.status == NO_ANSWER for p in inside),
                None if push_back is None else push_back - fault.restored,
                None if work_back is None else work_back - fault.restored,
            )
        )
    return rows


def judge(
    pushes: list[Push],
    records: Mapping[str, dict[str, Any] | None],
    runs: list[Run],
    faults: list[Fault],
    kills: dict[int, float],
    exits: list[Exit],
) -> Verdict:
    """Compute every figure and list the broken invariants in ``failures``.

    ``kills``: pid -> when the harness sent it SIGKILL; ``exits``: every supervised process
    that ended (a run it left open ended then at the latest).
    """
    ends = {e.pid: e.at for e in exits} | kills
    consumer_exits = collections.Counter(
        "killed by the harness" if e.killed_by_harness else f"exited with status {e.returncode}"
        for e in exits
        if e.role.startswith("consumer")
    )
    accepted = [p.message_id for p in pushes if p.message_id is not None]
    status = {i: (records.get(i) or {}).get("status") for i in accepted}
    finished = {r.message_id for r in runs if r.end is not None and not r.cancelled}
    per_message = collections.Counter(r.message_id for r in runs)
    answers = collections.Counter(str(p.status or "no answer") for p in pushes)
    verdict = Verdict(
        pushed=len(pushes),
        accepted=len(accepted),
        answers=dict(sorted(answers.items())),
        complete=sum(s == "COMPLETE" for s in status.values()),
        error=sum(s == "ERROR" for s in status.values()),
        lost=[i for i in accepted if records.get(i) is None],
        stuck=[i for i in accepted if status[i] not in (None, "COMPLETE", "ERROR")],
        concurrent=concurrent_messages(runs, ends),
        completed_without_run=[
            i for i in accepted if status[i] == "COMPLETE" and i not in finished
        ],
        unexpected_answers=sum(p.status not in (201, 503, NO_ANSWER) for p in pushes),
        runs=len(runs),
        run_more_than_once=sum(n > 1 for n in per_message.values()),
        rerun_reasons=dict(rerun_reasons(runs, kills)),
        runs_not_acknowledged=len(set(per_message) - set(accepted)),
        consumer_exits=dict(consumer_exits),
        faults=fault_rows(faults, pushes, runs),
    )
    checks = [
        (verdict.lost, "lost (accepted, no record at the end)"),
        (verdict.stuck, "stuck (accepted, not final at the end)"),
        (verdict.concurrent, "run concurrently by two consumers"),
        (verdict.completed_without_run, "COMPLETE without a finished run"),
    ]
    for ids, what in checks:
        if ids:
            verdict.failures.append(f"{len(ids)} {what}: {', '.join(ids[:5])}")
    if verdict.unexpected_answers:
        verdict.failures.append(f"{verdict.unexpected_answers} pushes answered neither 201 nor 503")
    if not accepted:
        verdict.failures.append("no push was accepted")
    return verdict
