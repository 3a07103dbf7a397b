"""Which body-field indexes are built, building the missing ones in the background.

:class:`SearchIndexes` keeps, per (queue, field), whether the store's index
(``shared.ports.Search.build_index``) is ready in this process. :meth:`SearchIndexes.ensure`
starts a background build for every indexed field of the given queues not built or building
yet (at gateway start, :meth:`SearchIndexes.start`, and after each hot reload,
:meth:`SearchIndexes.follow`);
:meth:`SearchIndexes.require` is what a search calls first: it raises :class:`IndexBuilding`
(``409``) while any of its fields' index is not ready, starting the build if nothing did (a
process that missed a reload, or a failed build, retried). Builds are idempotent in the store,
so gateways building the same index at once are harmless. A build that fails (store down) is
logged and forgotten: the next ``ensure`` or search starts it again.

``hold`` (tests only) is awaited at the start of every build: it makes "still building"
observable without a large queue or a timing assumption.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence

from shared.ports import FieldMatch, Search
from shared.queues.registry import LoadedQueue
from shared.service.errors import Conflict

log = logging.getLogger(__name__)

#: Awaited before a build of (queue, field) starts (tests hold builds with it).
Hold = Callable[[str, str], Awaitable[None]]


class IndexBuilding(Conflict):
    """A searched field's index is still being built; retry shortly."""


class SearchIndexes:
    """This process's view of the body-field indexes; see the module docstring."""

    def __init__(self, search: Search) -> None:
        self._search = search
        self._ready: set[tuple[str, str]] = set()
        self._building: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._active = False
        self.hold: Hold | None = None

    def start(self, queues: Iterable[LoadedQueue]) -> None:
        """Build the indexes of ``queues`` now, and follow reloads from here on (the
        gateway's start: a consumer-only process never builds)."""
        self._active = True
        self.ensure(queues)

    def follow(self, queues: Iterable[LoadedQueue]) -> None:
        """After a reload swapped the registry: :meth:`ensure` ``queues``, once started."""
        if self._active:
            self.ensure(queues)

    def ready(self, queue: str, field: str) -> bool:
        """True once the index on ``field`` of ``queue`` is built (in this process's view)."""
        return (queue, field) in self._ready

    def ensure(self, queues: Iterable[LoadedQueue]) -> None:
        """Start building every indexed field's index of ``queues`` not built or building."""
        for queue in queues:
            for name in queue.definition.indexed:
                self._start(queue.name, name)

    def require(self, queue: LoadedQueue, where: Sequence[FieldMatch]) -> None:
        """Return if every field ``where`` names has its index; else IndexBuilding (the
        builds started if none was running)."""
        waiting = sorted({t.field for t in where if not self.ready(queue.name, t.field)})
        for name in waiting:
            self._start(queue.name, name)
        if waiting:
            raise IndexBuilding(
                f"the index on {', '.join(waiting)} of queue {queue.name!r} is being built; "
                "retry shortly"
            )

    def _start(self, queue: str, field: str) -> None:
        key = (queue, field)
        if key in self._ready or key in self._building:
            return
        task = asyncio.get_running_loop().create_task(
            self._build(queue, field), name=f"search-index:{queue}:{field}"
        )
        self._building[key] = task

    async def _build(self, queue: str, field: str) -> None:
        key = (queue, field)
        try:
            if self.hold is not None:
                await self.hold(queue, field)
            log.info("building the search index on %s of %s", field, queue)
            await self._search.build_index(queue, field)
        except Exception:
            log.exception("building the search index on %s of %s failed", field, queue)
        else:
            self._ready.add(key)
            log.info("search index on %s of %s is ready", field, queue)
        finally:
            self._building.pop(key, None)

    async def close(self) -> None:
        """Stop the builds still running (the store finishes or drops a half-built index)."""
        tasks = list(self._building.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
