"""Hot reload: the handlers directory's changes applied to a running process.

A :class:`Reloader` watches ``--handlers`` by polling (every ``reload_interval_seconds``;
0 = off) and reloads on request (SIGHUP, see ``shared.platform.signals``). A reload:

1. loads the whole directory again with :func:`shared.queues.registry.load_registry` (handlers are
   imported into NEW module objects, compiled from source: a handler already running keeps
   the function it started with, new messages get the new code);
2. merges it with the current registry, per queue:

   - *added*: a queue that loads and was not served;
   - *changed*: a queue that loads and whose ``<name>.queue.json`` or ``<name>.py`` changed
     (on SIGHUP, or when a shared module changed: every queue that loads);
   - *removed*: a served queue whose ``<name>.queue.json`` is gone;
   - *kept*: a served queue whose files are still there but no longer load (bad JSON, bad
     schema, handler import error, ``sys.exit()`` at a handler's import): its last good
     version keeps serving;
   - anything else is left exactly as it was (same objects);
3. declares the added queues on the delivery (``WorkQueue.open``), calls
   ``on_queues([], removed)`` (the consumer stops consuming those), swaps the registry as a
   whole (``shared.queues.registry.RegistryHolder``) and tells ``on_swap`` (the gateway
   builds new search indexes: ``shared.service.searching``), then calls ``on_queues(added, [])``
   (the consumer starts consuming those).

If the delivery cannot declare the added queues, nothing is swapped and the next poll tries
again. ``services.py`` is not reloaded (services are created once at start); a change to it
is logged.

Shared modules (``shared.queues.handler_package``: a handler's ``from . import helper``) are
imported once and shared by every handler. A change to one (a ``.py`` in the directory that is not
``<queue>.py`` of a definition, nor ``services.py``), and SIGHUP, forget them all and count
every queue as changed, so every handler is imported again against the same new copy (a
handler that no longer imports keeps its last good version, with the copy it had). Changes in
sub-packages (``from .lib import x``) are not watched: SIGHUP applies them. Modules outside the
directory (installed libraries) are never re-imported.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from shared.ports import DeliveryUnavailable, WorkQueue
from shared.queues.definitions import SUFFIX
from shared.queues.handler_package import forget_modules
from shared.queues.registry import LoadedQueue, Registry, RegistryHolder, load_registry

log = logging.getLogger(__name__)

#: One file's identity for change detection: (mtime_ns, ctime_ns, size, inode).
Stamp = tuple[int, int, int, int]
#: Told the queues a reload added and removed (the consumer follows them).
QueueFollower = Callable[[Sequence[str], Sequence[str]], Awaitable[None]]
#: Told the registry a reload swapped in (e.g. to build its new search indexes).
RegistryFollower = Callable[[Registry], None]
SERVICES_FILE = "services.py"


def scan(directory: Path) -> dict[str, Stamp] | None:
    """The stamps of ``*.queue.json`` and ``*.py`` in ``directory``; None if it is missing."""
    stamps: dict[str, Stamp] = {}
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return None
    for entry in entries:
        if not entry.name.endswith((SUFFIX, ".py")):
            continue
        try:
            st = entry.stat()
        except OSError:  # removed while scanning
            continue
        stamps[entry.name] = (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino)
    return stamps


def changed_files(old: dict[str, Stamp], new: dict[str, Stamp]) -> set[str]:
    """Names added, removed or modified between two scans."""
    return {name for name in old.keys() | new.keys() if old.get(name) != new.get(name)}


@dataclass
class ReloadReport:
    """What one reload did (queue names, sorted)."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    #: Queue name → the errors that kept its last good version serving.
    kept: dict[str, list[str]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.added or self.changed or self.removed or self.kept)

    def describe(self) -> str:
        parts = [
            f"{label}: {', '.join(names) or '-'}"
            for label, names in (
                ("added", self.added),
                ("changed", self.changed),
                ("removed", self.removed),
                ("kept at last good version", sorted(self.kept)),
            )
        ]
        return "; ".join(parts)


def merge(
    current: Registry,
    loaded: Registry,
    present: set[str],
    touched: set[str] | None,
    directory: Path,
) -> tuple[Registry, ReloadReport]:
    """The registry to serve after a reload, and what changed.

    ``present``: the queue names whose definition file exists; ``touched``: the names whose
    files changed (None: every queue counts as changed).
    """
    report = ReloadReport()
    queues: dict[str, LoadedQueue] = {}
    for name, queue in loaded.queues.items():
        previous = current.queues.get(name)
        if previous is None:
            report.added.append(name)
            queues[name] = queue
        elif touched is None or name in touched:
            report.changed.append(name)
            queues[name] = queue
        else:
            queues[name] = previous  # untouched: the very same objects keep serving
    for name, previous in current.queues.items():
        if name in loaded.queues:
            continue
        if name in present:
            files = (str(directory / f"{name}{SUFFIX}"), str(directory / f"{name}.py"))
            report.kept[name] = [e for e in loaded.errors if e.startswith(files)]
            queues[name] = previous
        else:
            report.removed.append(name)
    for names in (report.added, report.changed, report.removed):
        names.sort()
    return Registry(queues=dict(sorted(queues.items())), errors=list(loaded.errors)), report


class Reloader:
    """Watches one runtime's handlers directory; see the module docstring.

    Run with :meth:`run` (or :func:`running_reloader`); :meth:`request` asks for a reload
    (from a signal handler); :meth:`reload` reloads now.
    """

    def __init__(
        self,
        registry: RegistryHolder,
        work: WorkQueue,
        directory: Path,
        interval: float,
        *,
        with_handlers: bool,
        on_queues: QueueFollower | None = None,
        on_swap: RegistryFollower | None = None,
    ) -> None:
        """Reload ``directory`` into ``registry`` every ``interval`` s (0: on request only),
        declaring added queues on ``work``; ``on_swap`` is told each registry swapped in."""
        self._registry = registry
        self._work = work
        self._interval = interval
        self._with_handlers = with_handlers
        self._on_queues = on_queues
        self._on_swap = on_swap
        self._directory = directory
        self._stamps = scan(self._directory) or {}
        self._missing = False
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()

    def request(self) -> None:
        """Reload soon, re-importing every queue (what SIGHUP does)."""
        self._wake.set()

    async def run(self) -> None:
        """Poll every ``reload_interval_seconds`` (0: only on request) until cancelled."""
        interval = self._interval
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval if interval > 0 else None):
                    await self._wake.wait()
            force = self._wake.is_set()
            self._wake.clear()
            try:
                await self.reload(force=force)
            except Exception:  # a reload must never take the process down
                log.exception("hot reload of %s failed", self._directory)

    async def reload(self, *, force: bool = False) -> ReloadReport | None:
        """Apply the directory's changes; the report, or None when nothing was done.

        ``force``: reload even when no file changed, and count every queue as changed.
        """
        async with self._lock:
            stamps = scan(self._directory)
            if stamps is None:
                if not self._missing:  # once per disappearance, not once per poll
                    log.warning("hot reload: %s is missing; keeping every queue", self._directory)
                self._missing = True
                return None
            if self._missing:
                log.info("hot reload: %s is back", self._directory)
                self._missing = False
            touched_files = self._touched_files(stamps)
            if not touched_files and not force:
                self._stamps = stamps
                return None
            touched = {f.removesuffix(SUFFIX).removesuffix(".py") for f in touched_files}
            present = {f.removesuffix(SUFFIX) for f in stamps if f.endswith(SUFFIX)}
            shared = sorted(f for f in touched_files if f.endswith(".py") and f[:-3] not in present)
            everything = force or bool(shared)
            if everything and self._with_handlers:
                # Handlers import their shared modules afresh, all from the same new copy.
                forget_modules()
            if shared:
                log.info(
                    "hot reload: shared module %s changed: every handler is imported again",
                    ", ".join(shared),
                )
            # SIGINT is the event loop's now: a KeyboardInterrupt can only be a handler's.
            loaded = load_registry(
                self._directory, with_handlers=self._with_handlers, interrupts=True
            )
            holder = self._registry
            merged, report = merge(
                holder.current, loaded, present, None if everything else touched, self._directory
            )
            if report.added:
                try:
                    await self._work.open(report.added)
                except DeliveryUnavailable as exc:
                    log.error(
                        "hot reload postponed: cannot declare %s on the delivery: %s",
                        ", ".join(report.added),
                        exc,
                    )
                    return None
            if self._on_queues is not None and report.removed:
                # Before the swap: a message delivered meanwhile still finds its queue.
                await self._on_queues([], report.removed)
            holder.current = merged
            if self._on_swap is not None:
                self._on_swap(merged)
            self._stamps = stamps
            self._log(report, force)
            if self._on_queues is not None and report.added:
                await self._on_queues(report.added, [])
            return report

    def _touched_files(self, stamps: dict[str, Stamp]) -> set[str]:
        """The files changed since the last reload that a reload applies (``services.py``
        never: it is logged instead; definitions only, without handlers)."""
        touched = changed_files(self._stamps, stamps)
        if not self._with_handlers:
            return {f for f in touched if f.endswith(SUFFIX)}
        if SERVICES_FILE in touched:
            touched.discard(SERVICES_FILE)
            log.warning(
                "hot reload: %s changed; services are created once at start: restart to apply it",
                self._directory / SERVICES_FILE,
            )
        return touched

    def _log(self, report: ReloadReport, force: bool) -> None:
        why = "SIGHUP" if force else "file change"
        if report.empty:
            log.info("hot reload (%s) of %s: nothing to apply", why, self._directory)
            return
        level = logging.WARNING if report.kept else logging.INFO
        log.log(level, "hot reload (%s) of %s: %s", why, self._directory, report.describe())
        for name, errors in report.kept.items():
            for error in errors or ["no longer loads"]:
                log.error("queue %s kept at its last good version: %s", name, error)


@asynccontextmanager
async def running_reloader(reloader: Reloader) -> AsyncIterator[Reloader]:
    """Run ``reloader`` in the background until the block exits."""
    task = asyncio.create_task(reloader.run(), name="hot-reload")
    try:
        yield reloader
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
