"""The set of loaded queues: definitions plus (for consumers) their handler functions.

A broken definition or handler is reported in :attr:`Registry.errors` and left out; the other
queues keep serving. Nothing a handler's import raises escapes (:data:`IMPORT_FAILURES`), but
``asyncio.CancelledError``, and ``KeyboardInterrupt`` outside a hot reload.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.platform.startup import CannotStart
from shared.queues.definitions import (
    DefinitionError,
    QueueDefinition,
    definition_files,
    error_text,
    load_definition,
)
from shared.queues.handler_package import import_handler_module
from shared.queues.roles import allowed_roles

log = logging.getLogger(__name__)

#: What user code may raise at import that makes a load error, not the process's end: any
#: ``Exception``, and ``SystemExit`` (``sys.exit()`` at module level) and ``GeneratorExit``,
#: which only user code raises there. ``KeyboardInterrupt`` too during a hot reload
#: (``interrupts``): SIGINT is the event loop's by then, so only user code raises it; at start
#: it may be the operator's Ctrl-C and stops the process. ``CancelledError`` is never caught.
IMPORT_FAILURES: tuple[type[BaseException], ...] = (Exception, SystemExit, GeneratorExit)

#: ``handle(message, ctx)``: async, or sync (then run in a worker thread).
HandlerFunc = Callable[..., Any]


@dataclass(frozen=True, slots=True)
class Handler:
    """A loaded handler: the function and how to call it."""

    func: HandlerFunc
    is_async: bool
    takes_ctx: bool

    def call(self, message: Any, ctx: Any) -> Any:
        """Call with the arguments the function accepts."""
        return self.func(message, ctx) if self.takes_ctx else self.func(message)


@dataclass(frozen=True, slots=True)
class LoadedQueue:
    """One servable queue."""

    definition: QueueDefinition
    allowed_roles: frozenset[str]
    handler: Handler | None = None

    @property
    def name(self) -> str:
        return self.definition.name


@dataclass(frozen=True)
class Registry:
    """Queues by name, plus the errors of those that failed to load."""

    queues: dict[str, LoadedQueue] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def get(self, name: str) -> LoadedQueue | None:
        return self.queues.get(name)

    @property
    def names(self) -> list[str]:
        return sorted(self.queues)


@dataclass
class RegistryHolder:
    """The current registry; replaced as a whole on reload. Call it for the current one."""

    current: Registry

    def __call__(self) -> Registry:
        return self.current


def _failures(interrupts: bool) -> tuple[type[BaseException], ...]:
    return (*IMPORT_FAILURES, KeyboardInterrupt) if interrupts else IMPORT_FAILURES


def load_handler(definition: QueueDefinition, *, interrupts: bool = False) -> Handler:
    """Import ``<dir>/<name>.py`` as ``conveyor_handlers.<name>``
    (``shared.queues.handler_package``: ``from . import helper`` imports a sibling) and return its
    ``handle``.

    ``interrupts``: a ``KeyboardInterrupt`` is a load error too (hot reload; see
    :data:`IMPORT_FAILURES`). Raises DefinitionError."""
    path = definition.handler_path
    if not path.is_file():
        raise DefinitionError(definition.path, f"handler file {path.name} is missing")
    try:
        module = import_handler_module(path, definition.name)
        func = getattr(module, "handle", None)  # a module ``__getattr__`` is user code too
    except _failures(interrupts) as exc:  # user code's failure is a load error, not a crash
        raise DefinitionError(path, f"handler does not import: {error_text(exc)}") from None
    if not callable(func):
        raise DefinitionError(path, "handler module has no callable `handle(message, ctx)`")
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        params = {}  # type: ignore[assignment]
    positional = [
        p
        for p in params.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
    ]
    if not positional:
        raise DefinitionError(path, "`handle` must accept (message, ctx)")
    takes_ctx = len(positional) >= 2 or positional[0].kind is inspect.Parameter.VAR_POSITIONAL
    return Handler(func=func, is_async=inspect.iscoroutinefunction(func), takes_ctx=takes_ctx)


def load_registry(directory: Path, *, with_handlers: bool, interrupts: bool = False) -> Registry:
    """Load every definition in ``directory`` (and its handler when ``with_handlers``);
    ``interrupts`` as for :func:`load_handler`."""
    registry = Registry()
    if not directory.is_dir():
        registry.errors.append(f"{directory}: handlers directory does not exist")
        return registry
    seen: dict[str, Path] = {}
    for path in definition_files(directory):
        try:
            definition = load_definition(path)
            folded = definition.name.lower()
            if folded in seen:
                raise DefinitionError(path, f"queue name clashes with {seen[folded]}")
            seen[folded] = path
            handler = load_handler(definition, interrupts=interrupts) if with_handlers else None
        except DefinitionError as exc:
            registry.errors.append(str(exc))
            continue
        registry.queues[definition.name] = LoadedQueue(
            definition=definition,
            allowed_roles=allowed_roles(definition.name, definition.roles),
            handler=handler,
        )
    for err in registry.errors:
        log.error("queue not loaded: %s", err)
    for queue in registry.queues.values():
        if not queue.definition.auth_enabled:
            log.warning(
                "queue %s has security mechanism none: anyone can push, read and "
                "delete its messages",
                queue.name,
            )
    return registry


async def load_services(directory: Path) -> dict[str, Any]:
    """The user services from ``<dir>/services.py`` (``create_services()``), or ``{}``.

    ``create_services`` may be sync or async and returns a mapping of name to service. Raises
    CannotStart (one line naming the file) when that fails, whatever user code raised
    (:data:`IMPORT_FAILURES`): handlers cannot run without their services.
    """
    path = directory / "services.py"
    if not path.is_file():
        return {}
    try:
        module = import_handler_module(path, "services")
        factory = getattr(module, "create_services", None)
        if factory is None:
            raise CannotStart(f"{path}: services.py must define create_services()")
        services = factory()
        if isinstance(services, Awaitable):
            services = await services
        return dict(services)
    except CannotStart:
        raise
    except IMPORT_FAILURES as exc:
        raise CannotStart(f"{path}: services could not be created: {error_text(exc)}") from None
