"""PyMongo's one known socket leak, told apart from every other unclosed socket.

PyMongo's async client (4.20.1, the newest) creates each connection's socket in
``pymongo.pool_shared._async_create_connection`` and closes it there on ``OSError`` and
timeouts, but not when the task creating it is cancelled mid-connect: its server monitor is,
whenever a client is closed while the monitor (re)connects. The socket is then dropped open;
its file descriptor is closed when the collector reaches it, with a ResourceWarning that this
suite (``filterwarnings = error``) turns into a failure of whichever test happens to run the
collector, often an embedded one that never touched MongoDB. Upstream: PYTHON-5867
(mongodb/mongo-python-driver#2858; 4.20.1 has no fix) and PYTHON-3923 (the driver's own
tests meet the same warnings).

:func:`install` makes the sockets PyMongo creates instances of :class:`DriverSocket` (a plain
subclass, so nothing else changes), and :func:`tolerating` wraps the unraisable-exception hook
so that the ResourceWarning of a ``DriverSocket`` alone is counted instead of raised: an
unclosed socket of Conveyor's own, of aiohttp or of aio-pika still fails its test. The count
is printed at the end of the run (``tests/conftest.py``), so the leak stays visible.
"""

from __future__ import annotations

import importlib
import importlib.util
import socket
import sys
import types
from collections.abc import Callable
from typing import Any

#: Where PyMongo's async client creates its sockets: ``pool_shared`` since 4.11 (the
#: non-blocking connect that leaks), ``asynchronous.pool`` before (a blocking connect).
CREATORS = ("pymongo.pool_shared", "pymongo.asynchronous.pool")

#: The ResourceWarnings of PyMongo's sockets seen this run.
dropped: list[str] = []


class DriverSocket(socket.socket):
    """A socket PyMongo created (see the module docstring)."""

    __slots__ = ()


class _Sockets(types.ModuleType):
    """The ``socket`` module as ``pymongo.pool_shared`` sees it: :class:`DriverSocket` as its
    ``socket`` class, everything else the real module's."""

    socket = DriverSocket

    def __getattr__(self, name: str) -> Any:
        return getattr(socket, name)


def creator() -> types.ModuleType:
    """The module of :data:`CREATORS` this PyMongo has."""
    name = next(name for name in CREATORS if importlib.util.find_spec(name) is not None)
    return importlib.import_module(name)


def connects_without_blocking() -> bool:
    """Whether this PyMongo's async connect awaits ``sock_connect`` (and so can leak)."""
    return hasattr(creator(), "_async_create_connection")


def install() -> None:
    """PyMongo's connections get :class:`DriverSocket` sockets from now on."""
    module = creator()
    if not isinstance(getattr(module, "socket"), _Sockets):  # noqa: B009 (a module's name)
        setattr(module, "socket", _Sockets("socket"))  # noqa: B010


Hook = Callable[[Any], object]


def tolerating(hook: Hook) -> Hook:
    """``hook``, except for the ResourceWarning of an unclosed :class:`DriverSocket`."""

    def unraisable(args: Any) -> object:
        if isinstance(args.object, DriverSocket) and isinstance(args.exc_value, ResourceWarning):
            dropped.append(repr(args.object))
            return None
        return hook(args)

    return unraisable


def tolerate_from_now() -> None:
    """Wrap the current ``sys.unraisablehook`` (pytest's) with :func:`tolerating`."""
    sys.unraisablehook = tolerating(sys.unraisablehook)
