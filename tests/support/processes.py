"""Real ``conveyor`` processes: one command run to completion (:func:`conveyor`), or a daemon
with its log file (:class:`Proc`); the environment they start with."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.sockets import free_port
from tests.support.waiting import wait_until_sync


@dataclass
class Proc:
    """A running ``python -m conveyor ...`` with its log file."""

    args: list[str]
    log: Path
    popen: subprocess.Popen[bytes] = field(init=False)

    def start(self, env: dict[str, str] | None = None) -> Proc:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "conveyor", *self.args],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**clean_env(), **(env or {})},
            )
        return self

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for_log(self, needle: str, within: float = 30.0) -> None:
        """Block until ``needle`` appears in the log; fail if the process dies first."""

        def logged() -> bool:
            if needle in self.text():
                return True
            assert self.alive(), f"process exited ({self.popen.returncode}):\n{self.text()}"
            return False

        wait_until_sync(logged, f"{needle!r} in the log", within, detail=self.text)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.alive():
            os.kill(self.pid, sig)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait; the exit status."""
        self.kill(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
            raise


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any ``CONVEYOR_*`` variable, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    env.update(extra)
    return env


def conveyor(
    *args: str, env: Mapping[str, str] | None = None, cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m conveyor ARGS`` to completion."""
    return subprocess.run(
        [sys.executable, "-m", "conveyor", *args],
        env=dict(env) if env is not None else clean_env(),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def http_args(port: int | None = None) -> tuple[int, list[str]]:
    """A free port and the flags to listen on it."""
    chosen = port or free_port()
    return chosen, ["--host", "127.0.0.1", "--port", str(chosen)]
