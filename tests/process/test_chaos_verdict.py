"""Unit tests of the chaos harness's verdict (``tests.process.chaos.verdict``): it must see a lost,
a stuck and a concurrently run message, and name why a message ran again, or the short
chaos run in CI (tests/process/test_chaos.py) could pass whatever happened."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.process.chaos.cluster import Exit
from tests.process.chaos.faults import KILL, Fault
from tests.process.chaos.load import Push
from tests.process.chaos.verdict import Run, judge, read_runs


def pushes(*ids: str) -> list[Push]:
    return [Push(float(n), float(n) + 0.1, 201, i) for n, i in enumerate(ids)]


def record(status: str) -> dict[str, Any]:
    return {"status": status}


def test_the_run_log_pairs_start_and_end_lines(tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    log.write_text(
        "a 10 1.000000 -\n"
        "b 11 1.500000 -\n"
        "a 10 1.000000 2.000000\n"
        "b 11 1.500000 1.700000 cancelled\n"
        "c 12 3.000000 -\n"
    )
    assert read_runs(log) == [
        Run("a", 10, 1.0, 2.0, False),
        Run("b", 11, 1.5, 1.7, True),
        Run("c", 12, 3.0, None, False),
    ]


def test_a_clean_run_holds_every_invariant() -> None:
    runs = [Run("a", 1, 1.0, 2.0, False), Run("b", 2, 1.0, 2.0, False)]
    records = {"a": record("COMPLETE"), "b": record("COMPLETE")}
    verdict = judge(pushes("a", "b"), records, runs, [], {}, [])
    assert verdict.failures == []
    assert (verdict.accepted, verdict.complete, verdict.run_more_than_once) == (2, 2, 0)


def test_lost_stuck_and_never_run_messages_are_failures() -> None:
    runs = [Run("b", 1, 1.0, None, False)]
    records = {"a": None, "b": record("INPROGRESS"), "c": record("COMPLETE")}
    verdict = judge(pushes("a", "b", "c"), records, runs, [], {}, [])
    assert verdict.lost == ["a"] and verdict.stuck == ["b"]
    assert verdict.completed_without_run == ["c"]
    assert len(verdict.failures) == 3


def test_overlapping_runs_of_one_message_are_concurrent() -> None:
    runs = [Run("a", 1, 1.0, 3.0, False), Run("a", 2, 2.0, 4.0, False)]
    verdict = judge(pushes("a"), {"a": record("COMPLETE")}, runs, [], {}, [])
    assert verdict.concurrent == ["a"]
    assert any("concurrently" in failure for failure in verdict.failures)


def test_a_run_cut_by_a_kill_ends_at_the_kill() -> None:
    # Process 1 was killed at 2.0 mid-run; process 2 took the message over at 5.0: fine.
    runs = [Run("a", 1, 1.0, None, False), Run("a", 2, 5.0, 6.0, False)]
    kills = {1: 2.0}
    faults = [Fault(KILL, 2.0, 2.1, pid=1, replacement=3)]
    verdict = judge(pushes("a"), {"a": record("COMPLETE")}, runs, faults, kills, [])
    assert verdict.failures == []
    assert verdict.rerun_reasons == {"killed mid-run (kill -9)": 1}
    # Had the second run started before the kill, the two would have overlapped.
    early = [Run("a", 1, 1.0, None, False), Run("a", 2, 1.5, 6.0, False)]
    assert judge(pushes("a"), {"a": record("COMPLETE")}, early, [], kills, []).concurrent == ["a"]


def test_an_open_run_of_a_process_that_exited_ends_with_it() -> None:
    runs = [Run("a", 1, 1.0, None, False), Run("a", 2, 5.0, 6.0, False)]
    exits = [Exit("consumer-0", 1, 3.0, 3, killed_by_harness=False)]
    verdict = judge(pushes("a"), {"a": record("COMPLETE")}, runs, [], {}, exits)
    assert verdict.failures == []
    assert verdict.consumer_exits == {"exited with status 3": 1}


def test_answers_other_than_201_and_503_are_failures() -> None:
    answered = [*pushes("a"), Push(5.0, 5.1, 500, None), Push(6.0, 6.1, 0, None)]
    verdict = judge(answered, {"a": record("COMPLETE")}, [Run("a", 1, 1, 2, False)], [], {}, [])
    assert verdict.unexpected_answers == 1
    assert verdict.answers == {"201": 1, "500": 1, "no answer": 1}
    assert verdict.failures == ["1 pushes answered neither 201 nor 503"]
