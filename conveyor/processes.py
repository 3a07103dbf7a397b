"""``conveyor gateway|consumer --processes N``: one parent keeping N child processes running.

Each child is a fresh ``python -m conveyor`` with the parent's own arguments and environment,
plus ``--processes 1``, ``CONVEYOR_CHILD_INDEX=i`` (0..N-1) and, when ``--metrics-port P``
is set, ``--metrics-port P+i``: a re-exec, not a fork, so no event loop or connection is
inherited. A child has its own connections, its own limits and its own metrics; gateway
children listen on the same ``--port`` with ``SO_REUSEPORT`` and the kernel spreads new
connections among them. The parent opens nothing: it starts, watches and stops children.

- A child that exits while the parent runs is started again. A child that failed at start
  (exit status 2 or 3, or it lived under :data:`STARTED_AFTER_SECONDS`) is started again
  after :func:`restart_delay`; after :data:`START_FAILURES` such failures in a row the
  parent stops the others and raises CannotStart (one line; the children logged why).
- SIGHUP is passed on to every child (hot reload).
- SIGTERM or SIGINT is passed on to every child; the parent waits for them up to
  :func:`stop_deadline` (the children's own shutdown grace plus a margin), kills any still
  running, and returns 0 if all ended by themselves, else 1.

Children run in their own process group, so a terminal's Ctrl-C reaches the parent alone
(which passes one SIGINT on), and on Linux each child is sent SIGTERM if the parent dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import sys
from collections.abc import Sequence

from shared.platform.settings import Settings, SettingsError
from shared.platform.settings.declare import CHILD_INDEX_ENV
from shared.platform.startup import CannotStart

log = logging.getLogger(__name__)

#: A child that ran this long had started: its end is not a start failure.
STARTED_AFTER_SECONDS = 10.0
#: Start failures in a row of one child before the parent gives up.
START_FAILURES = 5
#: The longest wait before starting a child again.
MAX_RESTART_DELAY_SECONDS = 10.0
#: Exit statuses of a process that could not start (bad settings; cannot start).
START_STATUSES = (2, 3)
#: Beyond the children's shutdown grace: closing connections and the store.
STOP_MARGIN_SECONDS = 10.0


def restart_delay(failures: int) -> float:
    """Seconds before starting a child again after ``failures`` start failures in a row:
    none after a child that had started, then 0.5, 1, 2, 4… up to the maximum."""
    if failures <= 0:
        return 0.0
    return min(0.5 * 2.0 ** (failures - 1), MAX_RESTART_DELAY_SECONDS)


def failed_at_start(status: int, lived_seconds: float) -> bool:
    """Whether a child that ended with ``status`` after ``lived_seconds`` never started."""
    return status in START_STATUSES or lived_seconds < STARTED_AFTER_SECONDS


def stop_deadline(command: str, settings: Settings) -> float:
    """How long the parent waits for its children after passing a stop signal on: a
    gateway drains (``--drain-seconds``) then lets requests finish, a consumer lets handlers
    finish (both up to ``--grace-seconds``)."""
    drain = settings.drain_seconds if command == "gateway" else 0.0
    return drain + settings.grace_seconds + STOP_MARGIN_SECONDS


def child_argv(argv: Sequence[str], index: int, metrics_port: int) -> list[str]:
    """Child ``index``'s arguments: the parent's, the last ``--processes`` and
    ``--metrics-port`` winning (argparse keeps a repeated flag's last value)."""
    args = [*argv, "--processes", "1"]
    if metrics_port:
        args += ["--metrics-port", str(metrics_port + index)]
    return args


def check_processes(command: str, settings: Settings) -> None:
    """Refuse (SettingsError) ``--processes`` where it cannot work: in ``serve`` (one
    embedded store and in-process delivery), with ``--port 0`` (each child would get a
    different port), or when ``--metrics-port`` + N - 1 is not a port."""
    n = settings.processes
    if n == 1:
        return
    if command == "serve":
        raise SettingsError(
            f"--processes {n}: conveyor serve is one process; run conveyor gateway and "
            "conveyor consumer (with --broker) for several"
        )
    if command == "gateway" and settings.port == 0:
        raise SettingsError(f"--processes {n} needs a --port (0 would give each child its own)")
    if settings.metrics_port and settings.metrics_port + n - 1 > 65535:
        raise SettingsError(
            f"--processes {n}: children use --metrics-port {settings.metrics_port} to "
            f"{settings.metrics_port + n - 1}, beyond port 65535"
        )


def follow_parent() -> None:
    """In a child on Linux: be sent SIGTERM when the parent dies (``PR_SET_PDEATHSIG``), so
    a parent killed with SIGKILL leaves no child serving. Elsewhere nothing."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0)


class Supervisor:
    """The parent: N children of one command (see the module docstring)."""

    def __init__(self, command: str, settings: Settings, argv: Sequence[str]) -> None:
        self.command = command
        self.settings = settings
        self.argv = list(argv)
        self.children: dict[int, asyncio.subprocess.Process] = {}
        self.stopping = asyncio.Event()
        self.stop_signal = signal.SIGTERM
        #: Why the parent gave up (one line), if it did.
        self.failure: str | None = None

    def request_stop(self, sig: signal.Signals) -> None:
        """A stop signal arrived: pass ``sig`` on to every child, start no more."""
        if self.stopping.is_set():
            return
        log.info("%s received; stopping %d children", sig.name, len(self.children))
        self.stop_signal = sig
        self.stopping.set()

    def forward(self, sig: signal.Signals) -> None:
        """Pass ``sig`` on to every running child."""
        for proc in self.children.values():
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(sig)

    async def _spawn(self, index: int) -> asyncio.subprocess.Process:
        args = child_argv(self.argv, index, self.settings.metrics_port)
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "conveyor",
            *args,
            env={**os.environ, CHILD_INDEX_ENV: str(index)},
            process_group=0,  # Ctrl-C reaches the parent only; it passes one SIGINT on
        )
        self.children[index] = proc
        log.info("%s child %d started (pid %d)", self.command, index, proc.pid)
        return proc

    async def _stopped_within(self, seconds: float) -> bool:
        """Wait ``seconds`` or until a stop is requested; True if it was."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)
        return self.stopping.is_set()

    async def _ended(self, proc: asyncio.subprocess.Process) -> bool:
        """Wait until ``proc`` ends (True) or a stop is requested (False)."""
        ended = asyncio.ensure_future(proc.wait())
        stop = asyncio.ensure_future(self.stopping.wait())
        await asyncio.wait((ended, stop), return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if ended.done():
            return True
        ended.cancel()
        return False

    async def _keep(self, index: int) -> None:
        """Keep child ``index`` running until a stop (then pass it on and wait) or giving up."""
        loop = asyncio.get_running_loop()
        failures = 0
        while not self.stopping.is_set():
            proc = await self._spawn(index)
            started = loop.time()
            if not await self._ended(proc):
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(self.stop_signal)
                await proc.wait()
                return
            status = proc.returncode if proc.returncode is not None else -1
            if self.stopping.is_set():
                return
            failures = failures + 1 if failed_at_start(status, loop.time() - started) else 0
            if failures >= START_FAILURES:
                self.failure = (
                    f"{self.command} child {index} failed at start {failures} times in a row "
                    f"(last exit status {status}; its log lines say why)"
                )
                self.stopping.set()
                return
            delay = restart_delay(failures)
            log.warning(
                "%s child %d (pid %d) exited with status %d; starting it again in %.1f s",
                self.command,
                index,
                proc.pid,
                status,
                delay,
            )
            if await self._stopped_within(delay):
                return

    async def run(self) -> int:
        """Start the children and keep them until a stop signal; the exit status.

        Raises CannotStart when a child keeps failing at start.
        """
        keepers = [
            asyncio.create_task(self._keep(i), name=f"child-{i}")
            for i in range(self.settings.processes)
        ]
        stop = asyncio.create_task(self.stopping.wait())
        await asyncio.wait([stop, *keepers], return_when=asyncio.FIRST_COMPLETED)
        self.stopping.set()  # a keeper that ended (gave up, or failed) stops the others too
        _, late = await asyncio.wait(keepers, timeout=stop_deadline(self.command, self.settings))
        killed = [i for i, proc in self.children.items() if proc.returncode is None]
        for index in killed:
            with contextlib.suppress(ProcessLookupError):
                self.children[index].kill()
        if late:
            await asyncio.wait(late)
        for keeper in keepers:
            keeper.result()  # a keeper's own error (a child that cannot be spawned) shows
        if self.failure:
            raise CannotStart(self.failure)
        if killed:
            log.error("children %s did not stop within the grace period: killed", killed)
            return 1
        log.info("all %d %s children stopped", len(self.children), self.command)
        return 0


async def supervise(command: str, settings: Settings, argv: Sequence[str]) -> int:
    """Run ``conveyor COMMAND --processes N`` as the parent of N children (module docstring);
    the exit status. Raises CannotStart when a child keeps failing at start."""
    supervisor = Supervisor(command, settings, argv)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, supervisor.request_stop, sig)
    loop.add_signal_handler(signal.SIGHUP, supervisor.forward, signal.SIGHUP)
    if command == "gateway" and not settings.metrics_port:
        log.warning(
            "--processes %d without --metrics-port: GET /metrics on the API port shows the "
            "counts of whichever child answers; set --metrics-port P to scrape child i on P+i",
            settings.processes,
        )
    try:
        return await supervisor.run()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)
