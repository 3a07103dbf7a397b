"""Handlers as modules of one private package, so that they can share code.

Every handler ``<dir>/<name>.py`` is imported as ``conveyor_handlers.<name>``, a module of the
package ``conveyor_handlers`` whose path is the ``--handlers`` directory, the same way in every
entry point (the ``conveyor`` console script, ``python -m conveyor``, ``serve``, ``consumer``,
``check``). A handler therefore imports a sibling with a relative import::

    from . import pricing            # <dir>/pricing.py, as conveyor_handlers.pricing
    from .lib.tax import vat         # <dir>/lib/__init__.py and <dir>/lib/tax.py

The directory itself is never put on ``sys.path``: a helper named ``json``, ``queue`` or
``logging`` does not shadow the standard library for the process (``import json`` stays the
standard one), and an absolute ``import pricing`` is not supported.

Modules of the package are compiled from their source on every import, never from
``__pycache__`` (and none is written into the directory): see :class:`FreshSourceLoader`. A
module imported once stays in ``sys.modules`` and is shared by every handler that imports
it until :func:`forget_modules` (hot reload, ``shared.queues.reload``, decides when).

One directory per process: binding the package to another directory (:func:`bind`, e.g. a
test or ``conveyor check`` of another directory in the same process) forgets the modules
imported from the previous one.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from types import CodeType, ModuleType

PACKAGE = "conveyor_handlers"
#: Module names (under the package) that :func:`forget_modules` keeps: services are created
#: once per process (``shared.queues.registry.load_services``).
KEPT = frozenset({"services"})


class FreshSourceLoader(importlib.machinery.SourceFileLoader):
    """Compiles the source on every import, never from ``__pycache__``.

    The cached bytecode is validated by the source's mtime in whole seconds and its size, so
    a handler edited twice within a second (same size) would otherwise run stale code after
    a hot reload (``shared.queues.reload``).
    """

    def get_code(self, fullname: str) -> CodeType:
        path = self.get_filename(fullname)
        return compile(self.get_data(path), path, "exec", dont_inherit=True)


def _spec(fullname: str, path: Path, package_dir: Path | None) -> importlib.machinery.ModuleSpec:
    locations = [str(package_dir)] if package_dir is not None else None
    spec = importlib.util.spec_from_file_location(
        fullname,
        path,
        loader=FreshSourceLoader(fullname, str(path)),
        submodule_search_locations=locations,
    )
    if spec is None:  # pragma: no cover - only for paths without a loader
        raise ImportError(f"cannot import {path}", name=fullname)
    return spec


class _PackageFinder(importlib.abc.MetaPathFinder):
    """Finds ``conveyor_handlers.*`` modules in their parent's ``__path__`` (module files and
    sub-packages with an ``__init__.py``), loaded by :class:`FreshSourceLoader`."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith(PACKAGE + ".") or not path:
            return None
        name = fullname.rpartition(".")[2]
        for entry in path:
            folder = Path(entry)
            if (folder / name / "__init__.py").is_file():
                return _spec(fullname, folder / name / "__init__.py", folder / name)
            if (folder / f"{name}.py").is_file():
                return _spec(fullname, folder / f"{name}.py", None)
        return None


_FINDER = _PackageFinder()


def bind(directory: Path) -> None:
    """Make ``conveyor_handlers`` the package of ``directory`` (idempotent)."""
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
    where = str(directory.resolve())
    package = sys.modules.get(PACKAGE)
    if package is not None and list(getattr(package, "__path__", [])) == [where]:
        return
    forget_modules(keep=())
    spec = importlib.machinery.ModuleSpec(PACKAGE, None, is_package=True)
    spec.submodule_search_locations = [where]
    sys.modules[PACKAGE] = importlib.util.module_from_spec(spec)


def forget_modules(keep: frozenset[str] | tuple[str, ...] = KEPT) -> list[str]:
    """Drop the package's imported modules from ``sys.modules`` (but those named in
    ``keep``), so the next import compiles them again; the names dropped.

    Module objects already imported stay valid for whoever holds them (a running handler).
    """
    prefix = PACKAGE + "."
    dropped = [
        name
        for name in list(sys.modules)
        if name.startswith(prefix) and name[len(prefix) :].split(".")[0] not in keep
    ]
    package = sys.modules.get(PACKAGE)
    for name in dropped:
        del sys.modules[name]
        child = name[len(prefix) :]
        # ``from . import x`` reads the package's attribute before sys.modules.
        if package is not None and "." not in child and hasattr(package, child):
            delattr(package, child)
    return dropped


def import_handler_module(path: Path, name: str) -> ModuleType:
    """Import ``path`` (a file in the handlers directory) as ``conveyor_handlers.<name>``,
    replacing an earlier import of it.

    Always a new module object compiled from the current source: functions of an earlier
    import keep working unchanged. The modules it imports from the package are imported
    once and shared (see the module docstring).
    """
    bind(path.parent)
    fullname = f"{PACKAGE}.{name}"
    spec = _spec(fullname, path, None)
    module = importlib.util.module_from_spec(spec)
    previous = sys.modules.get(fullname)
    sys.modules[fullname] = module
    try:
        FreshSourceLoader(fullname, str(path)).exec_module(module)
    except BaseException:
        if previous is not None:
            sys.modules[fullname] = previous
        else:
            sys.modules.pop(fullname, None)
        raise
    return module
