"""``--event-loop``: ``auto`` by default (uvloop where installed, else asyncio), or either.

A real ``conveyor serve`` on uvloop (its extension module mapped into the process) runs a
message to COMPLETE and stops on SIGTERM with exit 0; it is on uvloop by default and on the
standard loop with ``--event-loop asyncio``; a bad value is a settings error; a missing
uvloop is a clear error before anything starts for ``uvloop`` and asyncio for ``auto``.
The async tests themselves run on ``CONVEYOR_EVENT_LOOP``'s loop (tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import inspect
import signal
import sys
from pathlib import Path

import pytest

from conveyor.loops import EventLoopUnavailable, run
from tests.support.loops import EVENT_LOOP
from tests.support.processes import conveyor
from tests.support.serve import Spawn, push, serve_args, wait_final


def _maps(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text()


@pytest.mark.slow
def test_serve_on_uvloop_completes_a_message_and_stops_on_sigterm(
    spawn: Spawn, tmp_path: Path, queues_dir: Path
) -> None:
    proc = spawn(*serve_args(tmp_path, queues_dir, "--event-loop", "uvloop"))
    assert "uvloop/loop" in _maps(proc.proc.pid)
    message_id = push(proc, "echo", {"n": 7})
    record = wait_final(proc, "echo", message_id)
    assert record["status"] == "COMPLETE", record
    assert record["result"]["echo"] == {"n": 7}, record
    proc.proc.send_signal(signal.SIGTERM)
    assert proc.wait_exit(20) == 0, proc.log()


@pytest.mark.slow
def test_the_default_loop_is_uvloop_when_installed(
    spawn: Spawn, tmp_path: Path, queues_dir: Path
) -> None:
    proc = spawn(*serve_args(tmp_path, queues_dir))
    assert "uvloop/loop" in _maps(proc.proc.pid)
    message_id = push(proc, "echo", {"n": 1})
    assert wait_final(proc, "echo", message_id)["status"] == "COMPLETE"


@pytest.mark.slow
def test_asyncio_on_request(spawn: Spawn, tmp_path: Path, queues_dir: Path) -> None:
    proc = spawn(*serve_args(tmp_path, queues_dir, "--event-loop", "asyncio"))
    assert "uvloop/loop" not in _maps(proc.proc.pid)
    message_id = push(proc, "echo", {"n": 2})
    assert wait_final(proc, "echo", message_id)["status"] == "COMPLETE"


def test_an_unknown_event_loop_is_a_settings_error(tmp_path: Path) -> None:
    done = conveyor("serve", "--event-loop", "trio", "--store", f"sqlite:///{tmp_path / 'c.db'}")
    assert done.returncode == 2, done.stderr
    assert "must be auto, asyncio or uvloop" in done.stderr


def test_a_missing_uvloop_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # `import uvloop` raises ImportError
    ran = []

    async def main() -> None:
        ran.append(True)

    coro = main()
    with pytest.raises(EventLoopUnavailable, match=r"pip install uvloop"):
        run(coro, "uvloop")
    assert not ran
    assert inspect.getcoroutinestate(coro) == inspect.CORO_CLOSED  # no "never awaited"


def test_asyncio_runs_the_coroutine() -> None:
    seen: list[type[asyncio.AbstractEventLoop]] = []

    async def main() -> None:
        seen.append(type(asyncio.get_running_loop()))

    run(main(), "asyncio")
    assert seen and "uvloop" not in seen[0].__module__


def _loop_module(event_loop: str) -> str:
    seen: list[str] = []

    async def main() -> None:
        seen.append(type(asyncio.get_running_loop()).__module__)

    run(main(), event_loop)
    return seen[0]


def test_auto_runs_on_uvloop_when_installed() -> None:
    assert _loop_module("auto").startswith("uvloop")


def test_auto_falls_back_to_asyncio_without_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # `import uvloop` raises ImportError
    assert _loop_module("auto").startswith("asyncio")


async def test_async_tests_run_on_conveyor_event_loops_loop() -> None:
    module = type(asyncio.get_running_loop()).__module__
    assert module.startswith("uvloop" if EVENT_LOOP == "uvloop" else "asyncio"), module
