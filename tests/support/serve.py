"""``python -m conveyor serve`` as a real child process on its own port, and the blocking
calls the process tests make to it."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import jwt

from tests.support.api_client import http_call
from tests.support.sockets import free_port, listens_on
from tests.support.tokens import claims
from tests.support.waiting import wait_until_sync

# ``python -c`` program: set RLIMIT_NOFILE to (argv[1], argv[2]), then run ``conveyor argv[3:]``.
_WITH_NOFILE = (
    "import resource, runpy, sys; "
    "resource.setrlimit(resource.RLIMIT_NOFILE, (int(sys.argv[1]), int(sys.argv[2]))); "
    "sys.argv = ['conveyor', *sys.argv[3:]]; "
    "runpy.run_module('conveyor', run_name='__main__')"
)


class ServeProcess:
    """``python -m conveyor serve`` as a real child process on its own port; ``nofile``:
    start it with this (soft, hard) open-file limit."""

    def __init__(
        self,
        args: Sequence[str],
        env: Mapping[str, str],
        log_path: Path,
        nofile: tuple[int, int] | None = None,
    ) -> None:
        self.log_path = log_path
        self._log = log_path.open("ab")
        self._command = [sys.executable, "-m", "conveyor"]
        if nofile is not None:
            self._command = [sys.executable, "-c", _WITH_NOFILE, str(nofile[0]), str(nofile[1])]
        self._args, self._env = list(args), dict(env)
        self._start()

    def _start(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [*self._command, "serve", "--port", str(self.port), *self._args],
            env=self._env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_healthy(self, within: float = 30.0) -> None:
        """Wait until this process answers ``/healthz`` on its port. The answer counts only if
        this process holds the port (``listens_on``): another suite on the machine may have
        taken the port ``free_port`` chose, and answer for it; ours then exits with the port
        in use, and is started again once on another port."""
        retried = False

        def healthy() -> bool:
            nonlocal retried
            if self.proc.poll() is not None:
                log = self.log()
                assert not retried and "port is already in use" in log, (
                    f"serve exited early:\n{log}"
                )
                retried = True
                self._start()
                return False
            try:
                answered = http_call("GET", f"{self.url}/healthz", timeout=1)[0] == 200
            except OSError:
                return False
            return answered and listens_on(self.proc.pid, self.port)

        wait_until_sync(healthy, "serve to answer /healthz", within, detail=self.log)

    def wait_exit(self, within: float) -> int:
        try:
            return self.proc.wait(within)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"serve did not exit within {within}s:\n{self.log()}") from None

    def close(self) -> None:
        """Kill (if still running) and reap this process; close its log."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._log.close()


@contextlib.contextmanager
def healthy_serve(
    args: Sequence[str], env: Mapping[str, str], log_path: Path
) -> Iterator[ServeProcess]:
    """A :class:`ServeProcess` started with ``args``, once healthy; killed and reaped on
    exit."""
    proc = ServeProcess(args, env, log_path)
    try:
        proc.wait_healthy()
        yield proc
    finally:
        proc.close()


#: The JWT secret of the ``spawn`` fixture's processes (tests/process/conftest.py).
SECRET = "process-test-secret-" + "s" * 40
#: ``spawn(*args, env=None)``: start a healthy ``conveyor serve`` with these flags.
Spawn = Callable[..., ServeProcess]


def token(roles: list[str] | None = None) -> str:
    """A token :data:`SECRET` signs (roles: ``["tester"]`` unless given)."""
    return jwt.encode(claims(roles or ["tester"], ttl=600), SECRET, algorithm="HS256")


def push(proc: ServeProcess, queue: str, body: Any) -> str:
    """POST ``body`` to ``queue``; asserts 201 and returns the message id."""
    status, record = http_call("POST", f"{proc.url}/{queue}", body, token())
    assert status == 201, (status, record)
    return str(record["id"])


def get(proc: ServeProcess, queue: str, message_id: str) -> dict[str, Any]:
    status, record = http_call("GET", f"{proc.url}/{queue}/{message_id}", token=token())
    assert status == 200, (status, record)
    assert isinstance(record, dict)
    return record


def wait_final(
    proc: ServeProcess, queue: str, message_id: str, within: float = 30
) -> dict[str, Any]:
    """Poll until the message is COMPLETE or ERROR; the record."""

    def final() -> dict[str, Any] | None:
        record = get(proc, queue, message_id)
        return record if record["status"] in ("COMPLETE", "ERROR") else None

    return wait_until_sync(final, f"/{queue}/{message_id} to be final", within, detail=proc.log)


def serve_args(tmp_path: Path, queues_dir: Path, *extra: str) -> list[str]:
    """Flags for a SQLite store under ``tmp_path`` and the handlers in ``queues_dir``."""
    (tmp_path / "db").mkdir(exist_ok=True)  # a SQLite store's directory must exist
    store = f"sqlite:///{tmp_path / 'db' / 'conveyor.db'}"
    return ["--store", store, "--handlers", str(queues_dir), *extra]
