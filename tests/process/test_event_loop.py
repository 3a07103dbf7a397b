"""``--event-loop``: the standard asyncio loop by default, uvloop on request.

A real ``conveyor serve`` on uvloop (its extension module mapped into the process) runs a
message to COMPLETE and stops on SIGTERM with exit 0; a bad value is a settings error; a
missing uvloop is a clear error before anything starts.
"""

from __future__ import annotations

import asyncio
import inspect
import signal
import sys
from pathlib import Path

import pytest

from conveyor.loops import EventLoopUnavailable, run
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
def test_the_default_loop_is_asyncio(spawn: Spawn, tmp_path: Path, queues_dir: Path) -> None:
    proc = spawn(*serve_args(tmp_path, queues_dir))
    assert "uvloop/loop" not in _maps(proc.proc.pid)


def test_an_unknown_event_loop_is_a_settings_error(tmp_path: Path) -> None:
    done = conveyor("serve", "--event-loop", "trio", "--store", f"sqlite:///{tmp_path / 'c.db'}")
    assert done.returncode == 2, done.stderr
    assert "must be asyncio or uvloop" in done.stderr


def test_a_missing_uvloop_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # `import uvloop` raises ImportError
    ran = []

    async def main() -> None:
        ran.append(True)

    coro = main()
    with pytest.raises(EventLoopUnavailable, match=r"pip install 'conveyor\[uvloop\]'"):
        run(coro, "uvloop")
    assert not ran
    assert inspect.getcoroutinestate(coro) == inspect.CORO_CLOSED  # no "never awaited"


def test_asyncio_runs_the_coroutine() -> None:
    seen: list[type[asyncio.AbstractEventLoop]] = []

    async def main() -> None:
        seen.append(type(asyncio.get_running_loop()))

    run(main(), "asyncio")
    assert seen and "uvloop" not in seen[0].__module__
