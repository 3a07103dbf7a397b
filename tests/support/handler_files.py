"""The files test handlers write to say what they did (polled by the tests), and the ones a
test writes to release a handler that waits for it."""

from __future__ import annotations

from pathlib import Path


def exists(path: Path) -> bool:
    """``path.exists()`` (a plain function, so async tests can poll it)."""
    return path.exists()


def written(path: Path) -> bool:
    """``path`` holds at least one whole line. A handler's ``write_text`` creates the file
    before it writes: polling ``exists`` alone can read it empty."""
    try:
        return path.read_text().endswith("\n")
    except FileNotFoundError:
        return False


def touch(path: Path) -> None:
    path.write_text("go\n")
