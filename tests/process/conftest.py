"""Fixtures of the process tests: ``spawn`` starts ``conveyor serve`` child processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import clean_env
from tests.support.serve import SECRET, ServeProcess, Spawn


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Spawn]:
    """Start ``conveyor serve`` processes (healthy before returned); all killed at the end."""
    started: list[ServeProcess] = []

    def start(*args: str, env: dict[str, str] | None = None) -> ServeProcess:
        proc = ServeProcess(
            args,
            env if env is not None else clean_env(CONVEYOR_JWT_SECRET=SECRET),
            tmp_path / f"serve-{len(started)}.log",
        )
        started.append(proc)
        proc.wait_healthy()
        return proc

    yield start
    for proc in started:
        proc.close()
