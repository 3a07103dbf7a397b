"""Test queues: definitions written into a test's ``queues_dir``, handlers copied from
tests/fixtures/queues/."""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.support.paths import (
    EXTRA_DIR,
    QUEUES_DIR,
    RELOAD_DIR,
    RETRY_DIR,
    SEED_HANDLERS_DIR,
    WAIT_DIR,
)


def write_json(path: Path, document: Any) -> Path:
    """Write ``document`` as JSON to ``path``."""
    path.write_text(json.dumps(document))
    return path


def copy_handler(handler: str, target: Path) -> None:
    """Copy the handler module ``handler`` (from fixtures/queues/default or
    fixtures/queues/extra)."""
    for directory in (QUEUES_DIR, EXTRA_DIR):
        source = directory / f"{handler}.py"
        if source.is_file():
            shutil.copyfile(source, target)
            return
    raise FileNotFoundError(f"no test handler named {handler}")


def add_queue(
    queues_dir: Path,
    name: str,
    *,
    handler: str = "echo",
    schema: Any = None,
    roles: Mapping[str, Any] | None = None,
    **extra: Any,
) -> Path:
    """Write ``<name>.queue.json`` (and ``<name>.py`` copied from ``handler``)."""
    definition: dict[str, Any] = {"name": name, "incoming": {"schema": schema or {}}}
    if roles is not None:
        definition["roles"] = dict(roles)
    definition.update(extra)
    copy_handler(handler, queues_dir / f"{name}.py")
    return write_json(queues_dir / f"{name}.queue.json", definition)


def add_seed_queue(queues_dir: Path) -> None:
    """The seed's ``myQueue`` (definition and handler exactly as the repository ships them)."""
    for suffix in (".queue.json", ".py"):
        shutil.copyfile(SEED_HANDLERS_DIR / f"myQueue{suffix}", queues_dir / f"myQueue{suffix}")


def add_wait_queues(queues_dir: Path) -> None:
    """Copy the definitions of fixtures/queues/wait into ``queues_dir``, each with the one
    shared handler (``handler.py``) beside it as ``<name>.py``."""
    handler = WAIT_DIR / "handler.py"
    for source in WAIT_DIR.glob("*.queue.json"):
        shutil.copyfile(source, queues_dir / source.name)
        shutil.copyfile(handler, queues_dir / source.name.replace(".queue.json", ".py"))


TESTER = {"roles": ["tester"]}


def add_event_queues(queues_dir: Path) -> None:
    add_queue(queues_dir, "progress", handler="progress", roles=TESTER)
    add_queue(queues_dir, "syncprogress", handler="syncprogress", roles=TESTER)
    add_queue(queues_dir, "gate", handler="gate", roles=TESTER)


def versioned(queues_dir: Path, name: str, version: int) -> None:
    """Write ``<name>.py`` as version ``version`` of the versioned test handler
    (fixtures/queues/reload: it returns its version, optionally holding the message)."""
    shutil.copyfile(RELOAD_DIR / f"versioned_v{version}.py", queues_dir / f"{name}.py")


def definition(queues_dir: Path, name: str, schema: Any = None) -> Path:
    """Write ``<name>.queue.json`` (role ``tester``; any body, or ``schema``)."""
    document = {"name": name, "roles": TESTER, "incoming": {"schema": schema or {}}}
    return write_json(queues_dir / f"{name}.queue.json", document)


def add_versioned(queues_dir: Path, name: str, version: int = 1) -> None:
    """Queue ``name`` handled by version ``version`` of the versioned test handler."""
    versioned(queues_dir, name, version)
    definition(queues_dir, name)


def queue_files(folder: Path, *names: str) -> list[Path]:
    """The definition and the handler (``<name>.queue.json``, ``<name>.py``) of each queue
    ``names`` in ``folder``."""
    return [folder / f"{name}{suffix}" for name in names for suffix in (".queue.json", ".py")]


def add_retry_queue(queues_dir: Path, name: str, handler: str, **options: Any) -> None:
    """``<name>.queue.json`` with ``options``, handled by ``fixtures/queues/retry/<handler>.py``."""
    shutil.copyfile(RETRY_DIR / f"{handler}.py", queues_dir / f"{name}.py")
    definition = {"name": name, "incoming": {"schema": {"type": "object"}}, **options}
    write_json(queues_dir / f"{name}.queue.json", definition)
