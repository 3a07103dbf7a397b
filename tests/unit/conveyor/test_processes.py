"""The parent of ``--processes N``: its pure decisions, and the settings it starts children
with (the processes themselves: tests/process/test_processes.py)."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor.processes import (
    MAX_RESTART_DELAY_SECONDS,
    STARTED_AFTER_SECONDS,
    check_processes,
    child_argv,
    failed_at_start,
    restart_delay,
    stop_deadline,
)
from shared.platform.settings import SettingsError, parse_settings


def settings(environ: dict[str, str] | None = None, **flags: Any) -> Any:
    return parse_settings({k: str(v) for k, v in flags.items()}, environ or {})


def test_restart_delay_doubles_from_half_a_second_up_to_the_maximum() -> None:
    assert [restart_delay(n) for n in range(5)] == [0.0, 0.5, 1.0, 2.0, 4.0]
    assert restart_delay(50) == MAX_RESTART_DELAY_SECONDS


def test_a_child_failed_at_start_when_it_said_so_or_died_young() -> None:
    assert failed_at_start(3, 600.0) and failed_at_start(2, 600.0)
    assert failed_at_start(-9, STARTED_AFTER_SECONDS - 1)
    assert not failed_at_start(-9, STARTED_AFTER_SECONDS)
    assert not failed_at_start(1, 600.0)


def test_child_arguments_override_processes_and_offset_the_metrics_port() -> None:
    argv = ["gateway", "--processes", "4", "--port", "8080"]
    assert child_argv(argv, 2, 0) == [*argv, "--processes", "1"]
    assert child_argv(argv, 2, 9100) == [*argv, "--processes", "1", "--metrics-port", "9102"]


def test_the_children_are_waited_for_their_own_grace() -> None:
    s = settings(grace_seconds=7, drain_seconds=3)
    assert stop_deadline("consumer", s) < stop_deadline("gateway", s)
    assert stop_deadline("consumer", s) > 7 and stop_deadline("gateway", s) > 10


@pytest.mark.parametrize(
    ("command", "flags", "reason"),
    [
        ("serve", {"processes": 2}, "conveyor serve is one process"),
        ("gateway", {"processes": 2, "port": 0}, "needs a --port"),
        ("consumer", {"processes": 3, "metrics_port": 65534}, "beyond port 65535"),
    ],
)
def test_processes_that_cannot_work_are_refused(
    command: str, flags: dict[str, Any], reason: str
) -> None:
    with pytest.raises(SettingsError, match=reason):
        check_processes(command, settings(**flags))


def test_one_process_and_fitting_ports_pass() -> None:
    check_processes("serve", settings(processes=1))
    check_processes("consumer", settings(processes=2, metrics_port=65534))
    check_processes("gateway", settings(processes=2, port=8080, metrics_port=9100))


def test_the_child_index_comes_from_the_parent_variable_and_names_the_child() -> None:
    assert settings().child_index is None and settings().instance_suffix == ""
    child = settings({"CONVEYOR_CHILD_INDEX": "1"})
    assert child.child_index == 1 and child.instance_suffix == "-child1"
    with pytest.raises(SettingsError, match="CONVEYOR_CHILD_INDEX: bad value"):
        settings({"CONVEYOR_CHILD_INDEX": "-1"})
