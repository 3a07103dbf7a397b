"""The wheel is what a pip user gets: built from the checkout's files, installed into a
fresh virtual environment and run from a directory outside the repository.

The new environment borrows its dependencies from this one (a ``.pth`` line naming the
directory aiohttp is installed in: no download) but imports Conveyor only from the wheel;
``PYTHONPATH`` is cleared, so the checkout cannot stand in for a file the wheel lacks. The
wheel is built from a copy with one extra file in a nested static folder: the package-data
globs must carry folders nobody listed.
"""

from __future__ import annotations

import fnmatch
import importlib
import importlib.metadata
import shutil
import subprocess
import sys
import tomllib
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.support.api_client import http_call
from tests.support.paths import REPO
from tests.support.processes import clean_env
from tests.support.sockets import free_port
from tests.support.waiting import wait_until_sync

pytestmark = pytest.mark.slow

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
INCLUDE: list[str] = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
#: Added to the copy that is built: a file two folders below an existing static folder.
NESTED = "gateway/static/ui/nested/deeper/probe.js"


def copy_sources(target: Path) -> None:
    """The top-level files and the package folders ``packages.find`` includes."""
    junk = shutil.ignore_patterns("__pycache__", "*.pyc")
    for entry in REPO.iterdir():
        if entry.is_file():
            shutil.copy2(entry, target / entry.name)
        elif entry.is_dir() and any(fnmatch.fnmatch(entry.name, p) for p in INCLUDE):
            shutil.copytree(entry, target / entry.name, ignore=junk)


def backend_installed() -> bool:
    """True when this environment's setuptools satisfies ``[build-system] requires``, so the
    wheel builds offline (``--no-build-isolation``); else pip fetches the backend."""
    try:
        from packaging.requirements import Requirement
    except ImportError:
        return False
    for text in PYPROJECT["build-system"]["requires"]:
        requirement = Requirement(text)
        try:
            installed = importlib.metadata.version(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            return False
        if not requirement.specifier.contains(installed, prereleases=True):
            return False
    return True


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("source")
    copy_sources(source)
    (source / NESTED).parent.mkdir(parents=True)
    (source / NESTED).write_text("// a file in a folder no pattern names\n")
    dist = tmp_path_factory.mktemp("dist")
    isolation = ["--no-build-isolation"] if backend_installed() else []
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    run(*pip, "wheel", "--no-deps", *isolation, "-w", dist, source, cwd=source)
    (built,) = dist.glob("conveyor-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh environment with the wheel installed; dependencies borrowed from this one."""
    root = tmp_path_factory.mktemp("venv")
    run(sys.executable, "-m", "venv", "--without-pip", root, cwd=root)
    python = root / "bin" / "python"
    site = run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=root)
    dependencies = Path(aiohttp.__file__).parent.parent
    (Path(site.strip()) / "dependencies.pth").write_text(f"{dependencies}\n")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    run(*pip, "--python", python, "install", "--no-deps", "--no-index", wheel, cwd=root)
    return root


@pytest.fixture
def outside(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    """A working directory outside the repository and an environment that cannot reach
    the checkout (no PYTHONPATH)."""
    env = clean_env()
    env.pop("PYTHONPATH", None)
    home = tmp_path / "home"
    home.mkdir()
    yield home, env


def test_the_wheel_carries_every_package_and_data_file(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as whl:
        names = set(whl.namelist())
    packages = {str(Path(n).parent).replace("/", ".") for n in names if n.endswith("/__init__.py")}
    # setuptools' own discovery over the checkout (imported by name: it may ship no types)
    find_packages = importlib.import_module("setuptools").find_packages
    assert packages == set(find_packages(str(REPO), include=INCLUDE))
    static = REPO / "gateway" / "static"
    shipped = {
        str(p.relative_to(REPO))
        for p in static.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert {
        "gateway/static/ui/main.js",
        "gateway/static/ui/pages/queue.js",  # a subfolder's files too
        "gateway/static/docs.js",
    } <= shipped
    assert shipped | {NESTED} <= names, sorted(shipped | {NESTED} - names)
    examples = {f"conveyor/examples/{p.name}" for p in (REPO / "handlers").iterdir()}
    assert examples <= names
    assert "conveyor/py.typed" in names
    assert not any(n.startswith("shared/context.py") for n in names)


def test_the_installed_wheel_serves_a_message(
    venv: Path, outside: tuple[Path, dict[str, str]]
) -> None:
    home, env = outside
    bin_dir = venv / "bin"
    where = run(
        bin_dir / "python",
        "-c",
        "import conveyor, gateway, consumer, shared, conveyor.testing; "
        "print(conveyor.__file__, gateway.__file__, consumer.__file__, shared.__file__)",
        cwd=home,
        env=env,
    )
    assert all(path.startswith(str(venv)) for path in where.split()), where
    legacy = subprocess.run(
        [bin_dir / "python", "-c", "import shared.context"], cwd=home, env=env, check=False
    )
    assert legacy.returncode != 0  # removed: `from conveyor import Context`

    assert "usage: conveyor serve" in run(
        bin_dir / "conveyor", "serve", "--help", cwd=home, env=env
    )
    run(bin_dir / "conveyor", "init", "handlers", cwd=home, env=env)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with (home / "serve.log").open("wb") as log:
        serve = subprocess.Popen(
            [bin_dir / "conveyor", "serve", "--port", str(port)],
            cwd=home,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:

        def healthy() -> bool:
            assert serve.poll() is None, (home / "serve.log").read_text()
            try:
                return http_call("GET", f"{url}/healthz", timeout=1)[0] == 200
            except OSError:
                return False

        wait_until_sync(healthy, "the installed serve to answer /healthz", 60)
        token = run(bin_dir / "conveyor", "token", "--roles", "one", cwd=home, env=env).strip()
        status, pushed = http_call("POST", f"{url}/myQueue", {"hello": "wheel"}, token)
        assert status == 201, pushed
        status, record = http_call("GET", f"{url}/myQueue/{pushed['id']}?wait=30", token=token)
        assert status == 200 and record["status"] == "COMPLETE", record
        assert record["result"] == {"result": "value"}
        # package data, served (a dashboard module from a subfolder too)
        for asset in ("/ui/assets/main.js", "/ui/assets/pages/queue.js", "/docs/assets/docs.js"):
            with urllib.request.urlopen(url + asset, timeout=10) as resp:
                assert resp.status == 200 and resp.read()
    finally:
        serve.kill()
        serve.wait()
    assert "Traceback" not in (home / "serve.log").read_text()
