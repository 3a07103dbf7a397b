#!/usr/bin/env bash
# The declared minimum versions really work: install the LOWEST version every `>=` floor in
# pyproject.toml allows, on the lowest supported Python, and run the test suite on them.
#
# 1. Floors: every runtime dependency ([project] dependencies) and the build backend
#    ([build-system] requires) must be written `name>=X` (else this fails: a dependency
#    without a floor has no tested minimum), optionally with an environment marker (`; ...`,
#    kept on the pin). X must be a real release: it is installed as exactly `name==X` (a pip
#    constraints file), and the direct dependencies' own dependencies resolve as usual.
# 2. .venv-min: Python 3.11 (requires-python's floor) when available, setuptools==floor, then
#    `pip install --no-build-isolation -c floors -e .` (so the build backend's floor builds
#    the package) plus the [test] extra's tools except EXCLUDED (exact pins; test tools keep
#    their pins, floors apply to runtime dependencies only). Reused while pyproject.toml is
#    unchanged (cached like scripts/venv-lib.sh does: a stamp holding its checksum).
# 3. Checks that each floor is what got installed, then runs pytest on the embedded mode plus
#    the adapter suites that talk to the real RabbitMQ and MongoDB wire server (so aio-pika's
#    and pymongo's floors are exercised): `-m "not browser" -k "not distributed"`, leaving out
#    the test modules of the EXCLUDED tools. Needs what scripts/test.sh sets up (RabbitMQ,
#    .venv-mongo or MONGOECO_PYTHON); with CI=true a missing service fails as usual.
#
# Time on the 2-core machine: ~1 min to build .venv-min (once per pyproject.toml change),
# ~3.5 min of tests.
#
# Usage: ./scripts/test-min-versions.sh [PYTEST_ARGS...]
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
START=$SECONDS
VENV=.venv-min
# [test] tools not installed here, and why (name:import-name; test modules importing it are
# left out of this run; the full suite in scripts/test.sh runs them):
#   openapi-spec-validator needs jsonschema>=4.26, above jsonschema's floor;
#   playwright is only for the browser test; mypy, ruff, types-*: not tests.
EXCLUDED="openapi-spec-validator:openapi_spec_validator playwright:playwright mypy ruff types-*"

step() { printf '\n==> %s  [%ss]\n' "$*" "$((SECONDS - START))"; }
say() { printf '    %s\n' "$*"; }

# shellcheck source=scripts/venv-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/venv-lib.sh"

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# ---------------------------------------------------------------------------------------------
step "floors from pyproject.toml"
PY_CANDIDATES=("${PYTHON:-}" python3.11 python3 python3.12 python3.13 python)
PY=$(first_python "3,11" "${PY_CANDIDATES[@]}") || {
    echo "no Python >= 3.11 found (set PYTHON=...)" >&2
    exit 1
}
"$PY" - "$TMP" "$EXCLUDED" <<'EOF'
"""Write floors.txt (name==floor), setuptools.txt, tools.txt and ignored.txt into argv[1]."""
import fnmatch
import re
import sys
import tomllib
from pathlib import Path

out, excluded = Path(sys.argv[1]), [e.split(":") for e in sys.argv[2].split()]
project = tomllib.loads(Path("pyproject.toml").read_text())
FLOOR = re.compile(
    r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*>=\s*([0-9][^,;\s]*)"
    r"\s*(,\s*<\s*[0-9][^,;\s]*)?\s*(;.*)?$"
)


def floors(requirements: list[str], where: str) -> list[str]:
    pins = []
    for req in requirements:
        match = FLOOR.match(req)
        if not match:
            sys.exit(f"{where}: {req!r} is not `name>=floor` (one floor, at most an upper bound)")
        marker = f" ;{match[5][1:]}" if match[5] else ""  # kept: pip skips what it excludes
        pins.append(f"{match[1]}=={match[3]}{marker}")
    return pins


runtime = floors(project["project"]["dependencies"], "[project] dependencies")
backend = floors(project["build-system"]["requires"], "[build-system] requires")
(out / "floors.txt").write_text("\n".join(runtime + backend) + "\n")
(out / "setuptools.txt").write_text("\n".join(backend) + "\n")
tools = []
for req in project["project"]["optional-dependencies"]["test"]:
    name = re.split(r"[\s\[<>=!~;]", req, maxsplit=1)[0]
    if not any(fnmatch.fnmatch(name.lower(), e[0]) for e in excluded):
        tools.append(req)
(out / "tools.txt").write_text("\n".join(tools) + "\n")
ignored = set()
for path in sorted(Path("tests").rglob("*.py")):
    text = path.read_text()
    for entry in excluded:
        if len(entry) == 2 and re.search(rf"^(from|import) {entry[1]}\b", text, re.M):
            ignored.add(str(path))
(out / "ignored.txt").write_text("".join(f"{p}\n" for p in sorted(ignored)))
for pin in runtime + backend:
    print(f"    {pin}")
print(f"    test tools: {' '.join(tools)}")
EOF

# ---------------------------------------------------------------------------------------------
step "$VENV (the floors, on $("$PY" --version 2>&1))"
PY_CANDIDATES=("$PY")
KEY="$(cksum <pyproject.toml) $ROOT"
if [ -e "$VENV" ] && [ "$(cat "$VENV/.installed-min" 2>/dev/null)" != "$KEY" ]; then
    say "pyproject.toml changed: recreating $VENV (so nothing from older floors stays)"
    rm -rf "$VENV"
fi
# The stamp is written after the last install only; the build backend goes in first so the
# project is built by its floor (--no-build-isolation), not by pip's newest setuptools.
ensure_venv "$VENV" "3,11" ".installed-backend" "$KEY" -r "$TMP/setuptools.txt"
ensure_venv "$VENV" "3,11" ".installed-min" "$KEY" --no-build-isolation \
    -c "$TMP/floors.txt" -e "$ROOT" -r "$TMP/tools.txt"

step "installed versions are the floors"
"$VENV/bin/python" - "$TMP/floors.txt" <<'EOF'
import sys
from importlib.metadata import version
from pathlib import Path

from packaging.version import Version

from packaging.requirements import Requirement

wrong = []
for line in Path(sys.argv[1]).read_text().splitlines():
    req = Requirement(line)
    if req.marker is not None and not req.marker.evaluate():
        continue  # not for this platform (its environment marker)
    name, floor = req.name, next(iter(req.specifier)).version
    got = version(name)
    print(f"    {name} {got}")
    if Version(got) != Version(floor):
        wrong.append(f"{name} {got} (floor {floor})")
if wrong:
    sys.exit(f"not the floors: {', '.join(wrong)}")
EOF

# ---------------------------------------------------------------------------------------------
if [ -z "${MONGOECO_PYTHON:-}" ] && [ -x .venv-mongo/bin/python ]; then
    export MONGOECO_PYTHON=$ROOT/.venv-mongo/bin/python
fi
# Tests start `conveyor` and python subprocesses: they must be this venv's.
export VIRTUAL_ENV=$ROOT/$VENV
export PATH="$VIRTUAL_ENV/bin:$PATH"
IGNORE=()
while read -r path; do
    [ -n "$path" ] && IGNORE+=(--ignore "$path")
done <"$TMP/ignored.txt"
step "pytest on the floors (-m 'not browser' -k 'not distributed' ${IGNORE[*]})"
python -m pytest -m "not browser" -k "not distributed" "${IGNORE[@]}" -p no:cacheprovider "$@"

step "minimum versions passed"
