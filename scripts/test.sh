#!/usr/bin/env bash
# The test command: ./scripts/test.sh [PYTEST_ARGS...]   (e.g. -q -x -k embedded)
#
# 1. .venv        the project with its [test] extra (ruff, mypy, pytest ...)
# 2. .venv-mongo  a Python >= 3.13 with mongoeco[wire], the MongoDB wire server the distributed
#                 tests start (tests/support/services.py finds it through MONGOECO_PYTHON)
# 3. RabbitMQ     started if installed and nothing listens on 127.0.0.1:5672. It may be shared
#                 with other suites: nothing here or in the tests reconfigures it or enables a
#                 plugin on it, and tests delete only the queues they declared. The outage
#                 tests stop a private node that pytest starts itself
#                 (tests/support/brokers.py, which needs rabbitmq-server and rabbitmqctl).
#    Chromium     only checked: /usr/bin/chromium for the browser test (`-m browser`; .ci/run
#                 installs it, here: apt-get install -y chromium chromium-driver)
# 4. ruff check, ruff format --check, mypy, then the leftovers of killed runs of this checkout
#    removed from the broker, then pytest: stops at the first that fails.
#
# Idempotent: the venvs are reinstalled only when pyproject.toml (or the pinned mongoeco)
# changes, and a running RabbitMQ is left alone, so a second run goes straight to the checks.
# (To force a reinstall, e.g. for newer dependencies: rm .venv/.installed-*)
# A missing service only warns here: tests/support/services.py skips the distributed tests
# locally and fails them when CI=true, so a green CI still means they ran.
#
# Environment: PYTHON (interpreter for .venv), MONGOECO_PYTHON (use this Python >= 3.13 with
# mongoeco[wire] already installed instead of .venv-mongo), TEST_RABBITMQ_URL (as the tests).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
MONGOECO_SPEC='mongoeco[wire]==4.11.0'
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
step "RabbitMQ (127.0.0.1:5672)"
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
if ! command -v rabbitmqctl >/dev/null && [ ! -x /usr/sbin/rabbitmqctl ]; then
    warn "rabbitmqctl is not installed: the tests that inspect RabbitMQ or stop a private"
    warn "node of their own will SKIP locally and FAIL in CI (CI=true)."
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

# Queues that an earlier, killed run of THIS checkout left behind (each quorum queue holds file
# handles in RabbitMQ; hundreds make new connections hang). Only names carrying this checkout's
# tag and the pid of a pytest that is gone (tests/support/services.py run_prefix): never another
# suite's queues, nor those of a run still going.
step "remove leftover test queues of this checkout"
python -c 'import tests.support.brokers as b; print(b.delete_leftover_test_queues(), "removed")'

step "pytest $*"
pytest "$@"

step "all checks passed"
