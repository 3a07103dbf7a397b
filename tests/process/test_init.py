"""``conveyor --version`` and ``conveyor init DIR`` through the real command line.

``init`` writes the packaged examples (``conveyor/examples/``); the repository's
``handlers/`` is their one source, so its output must equal ``handlers/`` byte for byte.
"""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

from tests.support.paths import SEED_HANDLERS_DIR
from tests.support.processes import conveyor


def files_of(directory: Path) -> dict[str, bytes]:
    """Every file directly in ``directory`` (no caches), by name."""
    return {
        path.name: path.read_bytes()
        for path in directory.iterdir()
        if path.is_file() and path.suffix in (".py", ".json")
    }


def test_version_comes_from_the_package_metadata() -> None:
    done = conveyor("--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"conveyor {version('conveyor')}\n"


def test_init_writes_exactly_the_repository_examples(tmp_path: Path) -> None:
    target = tmp_path / "new" / "handlers"
    done = conveyor("init", str(target))
    assert done.returncode == 0, done.stderr
    expected = files_of(SEED_HANDLERS_DIR)
    assert sorted(expected) == [
        "myQueue.py",
        "myQueue.queue.json",
        "orders.py",
        "orders.queue.json",
    ]
    assert files_of(target) == expected, "conveyor/examples/ differs from handlers/: copy it"
    assert f"conveyor serve --handlers {target}" in done.stdout
    checked = conveyor("check", "--handlers", str(target))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "myQueue" in checked.stdout and "orders" in checked.stdout


def test_init_refuses_to_overwrite_unless_forced(tmp_path: Path) -> None:
    assert conveyor("init", str(tmp_path)).returncode == 0
    (tmp_path / "orders.py").write_text("# mine\n")
    (tmp_path / "myQueue.queue.json").unlink()

    refused = conveyor("init", str(tmp_path))
    assert refused.returncode == 2
    assert refused.stdout == ""
    [line] = refused.stderr.splitlines()
    assert line.startswith("conveyor: ") and "already exists" in line and "--force" in line, line
    assert (tmp_path / "orders.py").read_text() == "# mine\n"  # nothing written
    assert not (tmp_path / "myQueue.queue.json").exists()

    forced = conveyor("init", "--force", str(tmp_path))
    assert forced.returncode == 0, forced.stderr
    assert files_of(tmp_path) == files_of(SEED_HANDLERS_DIR)


def test_init_into_a_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "a-file"
    target.write_text("x")
    done = conveyor("init", str(target))
    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert line == f"conveyor: {target} exists and is not a directory"
