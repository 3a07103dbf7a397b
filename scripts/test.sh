#!/usr/bin/env bash
# The test command: ./scripts/test.sh [PYTEST_ARGS...]   (e.g. -q -x -k embedded)
#
# 1. .venv        the project with its [test] extra (ruff, mypy, pytest ...)
# 2. .venv-mongo  a Python >= 3.13 with mongoeco[wire], the MongoDB wire server the distributed
#                 tests start (tests/services.py finds it through MONGOECO_PYTHON)
# 3. RabbitMQ     started if installed and nothing listens on 127.0.0.1:5672; its management
#                 plugin enabled (tests use the HTTP API on 127.0.0.1:15672)
#    Chromium     only checked: /usr/bin/chromium for the browser test (`-m browser`; .ci/run
#                 installs it, here: apt-get install -y chromium chromium-driver)
# 4. ruff check, ruff format --check, mypy, pytest: stops at the first that fails.
#
# Idempotent: the venvs are reinstalled only when pyproject.toml (or the pinned mongoeco)
# changes, and a running RabbitMQ is left alone, so a second run goes straight to the checks.
# (To force a reinstall, e.g. for newer dependencies: rm .venv/.installed-*)
# A missing service only warns here: tests/services.py skips the distributed tests locally and
# fails them when CI=true, so a green CI still means they ran.
#
# Environment: PYTHON (interpreter for .venv), MONGOECO_PYTHON (use this Python >= 3.13 with
# mongoeco[wire] already installed instead of .venv-mongo), TEST_RABBITMQ_URL (as the tests).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
MONGOECO_SPEC='mongoeco[wire]==4.11.0'
RABBITMQ_URL=${TEST_RABBITMQ_URL:-amqp://guest:guest@127.0.0.1:5672/}
START=$SECONDS

step() { printf '\n==> %s  [%ss]\n' "$*" "$((SECONDS - START))"; }
say() { printf '    %s\n' "$*"; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }

# shellcheck source=scripts/venv-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/venv-lib.sh"

# port_open HOST PORT: true if something accepts TCP connections there (bash's /dev/tcp).
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# wait_until SECONDS COMMAND...: retry COMMAND every second until it succeeds or time is up.
wait_until() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 1
    done
}

# management_answers: true if the RabbitMQ management API answers HTTP at all (a 401 for other
# credentials still means it is up); the credentials are the tests' broker URL's.
management_answers() {
    RABBITMQ_URL=$RABBITMQ_URL .venv/bin/python - <<'EOF'
import base64, os, sys, urllib.error, urllib.request
from urllib.parse import urlsplit
url = urlsplit(os.environ["RABBITMQ_URL"])
auth = base64.b64encode(f"{url.username or 'guest'}:{url.password or 'guest'}".encode()).decode()
req = urllib.request.Request(
    "http://127.0.0.1:15672/api/overview", headers={"Authorization": f"Basic {auth}"}
)
try:
    urllib.request.urlopen(req, timeout=3).read()
except urllib.error.HTTPError:
    pass
except OSError:
    sys.exit(1)
EOF
}

# ---------------------------------------------------------------------------------------------
step "project venv (.venv, -e .[test])"
PY_CANDIDATES=("${PYTHON:-}" python3 python3.13 python3.12 python3.11 python)
KEY="$(cksum <pyproject.toml) $ROOT"
ensure_venv .venv "3,11" ".installed-test" "$KEY" -e "${ROOT}[test]"
# Tests may start `conveyor` or python as subprocesses: let them find the venv's.
export VIRTUAL_ENV=$ROOT/.venv
export PATH="$VIRTUAL_ENV/bin:$PATH"

# ---------------------------------------------------------------------------------------------
step "MongoDB wire server Python (.venv-mongo, $MONGOECO_SPEC)"
if [ -n "${MONGOECO_PYTHON:-}" ] && "$MONGOECO_PYTHON" -c 'import mongoeco.wire' 2>/dev/null; then
    say "using MONGOECO_PYTHON=$MONGOECO_PYTHON from the environment"
else
    unset MONGOECO_PYTHON
    # mongoeco needs Python >= 3.13: take one from PATH, else one that pyenv installed (pyenv's
    # shims only run the globally selected versions, so look in its versions/ folder directly).
    PYENV_ROOT_DIR=$( (pyenv root 2>/dev/null) || echo "${PYENV_ROOT:-$HOME/.pyenv}")
    shopt -s nullglob
    PY_CANDIDATES=(python3.13 python3.14 "$PYENV_ROOT_DIR"/versions/3.1[3-9]*/bin/python3)
    shopt -u nullglob
    if first_python "3,13" .venv-mongo/bin/python "${PY_CANDIDATES[@]}" >/dev/null; then
        ensure_venv .venv-mongo "3,13" ".installed" "$MONGOECO_SPEC" "$MONGOECO_SPEC"
        export MONGOECO_PYTHON=$ROOT/.venv-mongo/bin/python
        say "MONGOECO_PYTHON=$MONGOECO_PYTHON"
    else
        warn "no Python >= 3.13 found (python3.13 on PATH, or $PYENV_ROOT_DIR/versions/3.13*):"
        warn "the distributed tests will SKIP locally and FAIL in CI (CI=true)."
        warn "Install Python 3.13 (e.g. 'pyenv install 3.13') and run this again."
    fi
fi

# ---------------------------------------------------------------------------------------------
step "RabbitMQ (127.0.0.1:5672, management on :15672)"
if port_open 127.0.0.1 5672; then
    say "already listening on 127.0.0.1:5672"
elif command -v rabbitmq-server >/dev/null; then
    say "nothing on :5672: starting rabbitmq-server -detached"
    rabbitmq-server -detached || warn "rabbitmq-server -detached failed"
    if wait_until 90 port_open 127.0.0.1 5672; then
        say "up after $((SECONDS - START))s"
    else
        warn "RabbitMQ did not open :5672 within 90s (see /var/log/rabbitmq/)"
    fi
else
    warn "RabbitMQ is not installed and nothing listens on 127.0.0.1:5672:"
    warn "the distributed tests will SKIP locally and FAIL in CI (CI=true)."
fi
if port_open 127.0.0.1 5672; then
    if management_answers; then
        say "management API answers on :15672"
    elif command -v rabbitmq-plugins >/dev/null; then
        # Enabling is online (no restart) and persists in the node's enabled_plugins file.
        say "enabling rabbitmq_management"
        if rabbitmq-plugins -q enable rabbitmq_management >/dev/null &&
            wait_until 60 management_answers; then
            say "management API answers on :15672"
        else
            warn "the RabbitMQ management API does not answer on 127.0.0.1:15672"
        fi
    else
        warn "RabbitMQ runs but its management API does not answer on :15672 and"
        warn "rabbitmq-plugins is not here to enable it (use a *-management image)."
    fi
fi

# ---------------------------------------------------------------------------------------------
step "Chromium (/usr/bin/chromium, for the browser test)"
if [ -x /usr/bin/chromium ]; then
    say "found"
else
    warn "no /usr/bin/chromium: the browser test will SKIP locally and FAIL in CI (CI=true)."
    warn "Install it with: apt-get install -y chromium chromium-driver"
fi

# ---------------------------------------------------------------------------------------------
step "ruff check ."
ruff check .

step "ruff format --check ."
ruff format --check .

step "mypy"
mypy

# Test queues an earlier, killed run left behind: each quorum queue holds file handles in
# RabbitMQ, and hundreds of them make new connections hang. Done here, once, rather than in
# pytest, so that a second suite running at the same time is never disturbed.
step "remove leftover test queues"
python -c 'from tests.services import delete_leftover_test_queues as d; print(d(), "removed")'

step "pytest $*"
pytest "$@"

step "all checks passed"
