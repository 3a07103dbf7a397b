"""The layout rule of the product code (issue 17, "Done means"): no Python module over
:data:`MAX_LINES` lines, no module name used in three or more folders (the names of
:data:`NAMES_ANYWHERE` aside), and no import cycles between product modules.

The product is every ``*.py`` of the checkout outside ``tests/``, ``bench/`` and ``scripts/``
(and outside hidden or build folders). Imports are read with :mod:`ast`, wherever they are:
at module level, inside a function (a deferred import still closes a loop when it runs), and
inside ``if TYPE_CHECKING:`` (the product has none today; no exemption is made for them). Only
imports between the product packages (:data:`PACKAGES`) count. ``from a.b import c`` is an
import of the submodule ``a.b.c`` when that module exists, else of the package ``a.b``.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: Top-level folders that are not product code.
NOT_PRODUCT = frozenset({"tests", "bench", "scripts"})
#: Folder names never walked (virtual environments, caches, build output).
SKIPPED_DIRS = frozenset({"__pycache__", "build", "dist", "venv", "node_modules"})
#: The top-level packages whose imports of each other form the import graph.
PACKAGES = frozenset({"gateway", "consumer", "shared", "conveyor", "handlers"})
MAX_LINES = 400
#: Module names that may appear in any number of folders.
NAMES_ANYWHERE = frozenset({"errors", "main", "app", "__init__"})
MAX_FOLDERS_PER_NAME = 2


def product_files(root: Path = ROOT) -> list[Path]:
    """Every product ``*.py`` under ``root``, sorted."""

    def walk(folder: Path, top: bool) -> Iterator[Path]:
        for path in sorted(folder.iterdir()):
            if path.is_dir():
                skipped = path.name in SKIPPED_DIRS or path.name.startswith(".")
                if skipped or path.name.endswith(".egg-info") or (top and path.name in NOT_PRODUCT):
                    continue
                yield from walk(path, top=False)
            elif path.suffix == ".py":
                yield path

    return list(walk(root, top=True))


def module_name(path: Path, root: Path = ROOT) -> str:
    """``path``'s dotted module name (a package's ``__init__.py`` is the package)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def long_modules(files: Iterable[Path], root: Path = ROOT) -> list[str]:
    """``path: N lines`` for each file of ``files`` over :data:`MAX_LINES` lines."""
    found = []
    for path in files:
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES:
            found.append(f"{path.relative_to(root)}: {lines} lines")
    return found


def shared_names(files: Iterable[Path], root: Path = ROOT) -> dict[str, list[str]]:
    """Each module name (``audit.py``) used in more than :data:`MAX_FOLDERS_PER_NAME`
    folders, with those folders."""
    folders: dict[str, set[str]] = defaultdict(set)
    for path in files:
        if path.stem not in NAMES_ANYWHERE:
            folders[path.name].add(path.parent.relative_to(root).as_posix())
    return {
        name: sorted(where)
        for name, where in sorted(folders.items())
        if len(where) > MAX_FOLDERS_PER_NAME
    }


def _absolute(node: ast.ImportFrom, importer: str, is_package: bool) -> str:
    """The absolute module a ``from`` import names (resolving a relative one)."""
    if not node.level:
        return node.module or ""
    package = importer.split(".") if is_package else importer.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imported_modules(path: Path, importer: str, modules: set[str]) -> set[str]:
    """The product modules (of ``modules``) that ``path`` imports, anywhere in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()

    def add(name: str) -> None:
        # `import a.b.c` (or a name of a module that is not a product one): the longest
        # product module it names.
        parts = name.split(".")
        while parts and ".".join(parts) not in modules:
            parts.pop()
        if parts:
            found.add(".".join(parts))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in PACKAGES:
                    add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, importer, path.name == "__init__.py")
            if base.split(".")[0] not in PACKAGES:
                continue
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                add(submodule if submodule in modules else base)
    found.discard(importer)
    return found


def import_graph(files: Iterable[Path], root: Path = ROOT) -> dict[str, set[str]]:
    """Each product module and the product modules it imports."""
    paths = {module_name(path, root): path for path in files}
    modules = set(paths)
    return {name: imported_modules(path, name, modules) for name, path in sorted(paths.items())}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` as ``[a, b, ..., a]``, or None (depth-first search)."""
    done: set[str] = set()
    stack: list[str] = []
    on_stack: set[str] = set()

    def visit(module: str) -> list[str] | None:
        stack.append(module)
        on_stack.add(module)
        for target in sorted(graph.get(module, ())):
            if target in on_stack:
                return [*stack[stack.index(target) :], target]
            if target not in done:
                cycle = visit(target)
                if cycle is not None:
                    return cycle
        stack.pop()
        on_stack.discard(module)
        done.add(module)
        return None

    for module in sorted(graph):
        if module not in done:
            cycle = visit(module)
            if cycle is not None:
                return cycle
    return None


def test_the_product_tree_is_found() -> None:
    files = product_files()
    names = {module_name(path) for path in files}
    assert {"conveyor.cli", "consumer.main", "gateway.app", "shared.ports"} <= names
    assert not any(path.relative_to(ROOT).parts[0] in NOT_PRODUCT for path in files)


def test_no_module_is_over_the_line_limit() -> None:
    assert long_modules(product_files()) == []


def test_no_module_name_is_used_in_three_or_more_folders() -> None:
    assert shared_names(product_files()) == {}


def test_no_import_cycle() -> None:
    cycle = find_cycle(import_graph(product_files()))
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_cycle_check_sees_function_level_and_submodule_imports(tmp_path: Path) -> None:
    """The checker itself: a loop closed by an import inside a function, through a
    ``from package import submodule``, is reported with every module on it."""
    (tmp_path / "conveyor").mkdir()
    (tmp_path / "consumer").mkdir()
    (tmp_path / "conveyor" / "__init__.py").write_text("")
    (tmp_path / "consumer" / "__init__.py").write_text("")
    (tmp_path / "conveyor" / "cli.py").write_text(
        "def main():\n    from consumer import main as m\n    return m\n"
    )
    (tmp_path / "consumer" / "main.py").write_text("from conveyor.cli import main\n")
    (tmp_path / "consumer" / "plain.py").write_text("import json\nfrom consumer import main\n")
    graph = import_graph(product_files(tmp_path), tmp_path)
    assert graph["consumer.plain"] == {"consumer.main"}
    assert find_cycle(graph) == ["consumer.main", "conveyor.cli", "consumer.main"]
