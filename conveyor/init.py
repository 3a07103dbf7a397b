"""``conveyor init DIR``: write the example queues into a handlers directory.

The examples are package data (``conveyor/examples/``): byte-for-byte copies of the
repository's ``handlers/``, which stays their one source (a test fails when they differ), so
a ``pip install`` user gets what ``./scripts/serve.sh`` users get.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

#: The example files, in the order they are written.
EXAMPLES = ("myQueue.queue.json", "myQueue.py", "orders.queue.json", "orders.py")


class InitError(Exception):
    """``init`` wrote nothing; the message is one line saying why."""


def example_files() -> dict[str, Traversable]:
    """Each example's file name and its packaged copy."""
    root = files("conveyor") / "examples"
    return {name: root / name for name in EXAMPLES}


def init(directory: Path, *, force: bool = False) -> list[Path]:
    """Write the examples into ``directory`` (created if missing) and return the paths.

    Raises InitError, before writing anything, when one of the files already exists (unless
    ``force``: then they are overwritten) or ``directory`` is not a directory.
    """
    if directory.exists() and not directory.is_dir():
        raise InitError(f"{directory} exists and is not a directory")
    sources = example_files()
    targets = [directory / name for name in sources]
    existing = [str(path) for path in targets if path.exists()]
    if existing and not force:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise InitError(f"{existing[0]} already exists{more}; --force overwrites")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for target, source in zip(targets, sources.values(), strict=True):
            target.write_bytes(source.read_bytes())
    except OSError as exc:
        raise InitError(f"cannot write into {directory}: {exc.strerror or exc}") from None
    return targets
