"""Handlers share code through relative imports (``from . import helper``), the same way
under the ``conveyor`` console script, ``python -m conveyor`` and ``serve``, without the
handlers directory on ``sys.path`` (a helper named ``json`` does not shadow the standard
library); hot reload re-imports every handler against a changed shared module."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest

from shared.adapters.inprocess.queues import InProcessDelivery
from shared.queues.registry import RegistryHolder, load_registry
from shared.queues.reload import Reloader
from tests.support.api_client import http_call
from tests.support.processes import clean_env
from tests.support.queues import write_json
from tests.support.serve import ServeProcess
from tests.support.tokens import claims
from tests.support.waiting import wait_until_sync

SECRET = "package-test-secret-" + "p" * 40

HANDLER = """\
import json

from . import json as local_json
from . import pricing


async def handle(message, ctx):
    return {
        "total": pricing.total(message["items"]),
        "stdlib_json": json.dumps([1]) == "[1]" and json is not local_json,
        "local": local_json.LOCAL,
        "module": __name__,
    }
"""


def pricing(factor: int) -> str:
    return f"def total(items):\n    return sum(items) * {factor}\n"


def write_queue(directory: Path, name: str, handler: str) -> None:
    definition = {"name": name, "roles": {"needsRole": False}, "incoming": {"schema": {}}}
    write_json(directory / f"{name}.queue.json", definition)
    (directory / f"{name}.py").write_text(handler)


@pytest.fixture
def handlers(tmp_path: Path) -> Path:
    """A handlers directory: ``priced`` imports its siblings ``pricing`` and ``json``."""
    directory = tmp_path / "handlers"
    directory.mkdir()
    write_queue(directory, "priced", HANDLER)
    (directory / "pricing.py").write_text(pricing(1))
    (directory / "json.py").write_text('LOCAL = "handlers/json.py"\n')
    return directory


def console_script() -> Path:
    """The venv's ``conveyor`` console script (not ``python -m``: its sys.path differs)."""
    script = Path(sys.executable).with_name("conveyor")
    assert script.is_file(), f"no console script at {script}"
    return script


ENTRY_POINTS = {
    "console script": lambda: [str(console_script())],
    "python -m": lambda: [sys.executable, "-m", "conveyor"],
}


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_check_imports_sibling_modules_under_every_entry_point(
    handlers: Path, tmp_path: Path, entry: str
) -> None:
    done = subprocess.run(
        [*ENTRY_POINTS[entry](), "check", "--handlers", str(handlers)],
        capture_output=True,
        text=True,
        env=clean_env(),
        cwd=tmp_path,  # not the handlers directory
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, (done.stdout, done.stderr)
    row = next(line for line in done.stdout.splitlines() if line.startswith("priced"))
    assert row.split()[-1] == "ok", done.stdout


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_the_handlers_directory_is_not_on_sys_path(
    handlers: Path, tmp_path: Path, entry: str
) -> None:
    """An absolute ``import pricing`` fails alike everywhere: the directory is a package,
    not a ``sys.path`` entry."""
    write_queue(
        handlers, "absolute", "import pricing\n\n\ndef handle(message, ctx):\n    return 1\n"
    )
    done = subprocess.run(
        [*ENTRY_POINTS[entry](), "check", "--handlers", str(handlers)],
        capture_output=True,
        text=True,
        env=clean_env(),
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "No module named 'pricing'" in done.stdout, done.stdout
    rows = {line.split()[0]: line.split()[-1] for line in done.stdout.splitlines()[1:3]}
    assert rows == {"absolute": "FAIL", "priced": "ok"}, done.stdout


@pytest.fixture
def serve(handlers: Path, tmp_path: Path) -> Iterator[ServeProcess]:
    proc = ServeProcess(
        [
            "--store",
            f"sqlite:///{tmp_path / 'c.db'}",
            "--handlers",
            str(handlers),
            "--reload-interval-seconds",
            "0.2",
        ],
        clean_env(CONVEYOR_JWT_SECRET=SECRET),
        tmp_path / "serve.log",
    )
    try:
        proc.wait_healthy()
        yield proc
    finally:
        proc.close()


def run(proc: ServeProcess, items: list[int]) -> dict[str, Any]:
    """Push to ``priced`` and wait for the final record."""
    token = jwt.encode(claims(["anyone"], ttl=600), SECRET, algorithm="HS256")
    status, record = http_call("POST", f"{proc.url}/priced", {"items": items}, token)
    assert status == 201, (status, record)
    url = f"{proc.url}/priced/{record['id']}?wait=10"
    status, final = http_call("GET", url, token=token, timeout=15)
    assert status == 200 and final["status"] == "COMPLETE", (status, final, proc.log())
    result: dict[str, Any] = final["result"]
    return result


@pytest.mark.slow
def test_serve_runs_a_handler_using_shared_modules_and_reloads_them(
    serve: ServeProcess, handlers: Path
) -> None:
    first = run(serve, [1, 2, 3])
    assert first == {
        "total": 6,
        "stdlib_json": True,
        "local": "handlers/json.py",
        "module": "conveyor_handlers.priced",
    }
    time.sleep(0.05)  # a different mtime even on coarse file systems
    (handlers / "pricing.py").write_text(pricing(10))

    def reloaded() -> bool:
        return bool(run(serve, [1, 2, 3])["total"] == 60)

    wait_until_sync(reloaded, "the changed shared module to apply", 15, detail=serve.log)
    log = serve.log()
    assert "shared module pricing.py changed: every handler is imported again" in log, log
    assert "changed: priced" in log, log


def write_package(directory: Path, rate: int) -> None:
    lib = directory / "lib"
    lib.mkdir(exist_ok=True)
    (lib / "__init__.py").write_text("")
    (lib / "rates.py").write_text(f"RATE = {rate}\n")


async def test_sighup_reload_reimports_sub_packages(handlers: Path) -> None:
    """Sub-packages are importable (``from .lib import rates``); not watched, but SIGHUP (a
    forced reload) re-imports them."""
    write_package(handlers, 1)
    handler = "from .lib import rates\n\n\ndef handle(message, ctx):\n    return rates.RATE\n"
    write_queue(handlers, "rated", handler)
    holder = RegistryHolder(load_registry(handlers, with_handlers=True))
    delivery = InProcessDelivery()
    await delivery.open(holder.current.names)

    def rate() -> Any:
        loaded = holder.current.get("rated")
        assert loaded is not None and loaded.handler is not None
        return loaded.handler.call({}, None)

    assert rate() == 1
    reloader = Reloader(holder, delivery, handlers, 0, with_handlers=True)
    write_package(handlers, 2)
    assert await reloader.reload() is None, "a sub-package is not watched"
    assert rate() == 1
    report = await reloader.reload(force=True)
    assert report is not None and "rated" in report.changed
    assert rate() == 2
    await delivery.close()


def test_each_directory_gets_its_own_shared_modules(tmp_path: Path) -> None:
    """Loading another directory in the same process rebinds the package: its helpers, not
    the first directory's cached ones."""
    results = []
    for factor in (2, 3):
        directory = tmp_path / f"handlers{factor}"
        directory.mkdir()
        handler = "from . import pricing\n\n\ndef handle(message, ctx):\n"
        handler += "    return pricing.total(message)\n"
        write_queue(directory, "priced", handler)
        (directory / "pricing.py").write_text(pricing(factor))
        loaded = load_registry(directory, with_handlers=True).get("priced")
        assert loaded is not None and loaded.handler is not None
        results.append(loaded.handler.call([1, 1], None))
    assert results == [4, 6]


def test_no_bytecode_is_written_into_the_handlers_directory(handlers: Path) -> None:
    loaded = load_registry(handlers, with_handlers=True)
    assert loaded.names == ["priced"], loaded.errors
    assert not (handlers / "__pycache__").exists()
