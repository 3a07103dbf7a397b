#!/usr/bin/env bash
# Run Conveyor in embedded mode (SQLite + in-process delivery) on a machine that only has
# Python 3.11+: creates .venv on first use, installs the project into it, then runs
#   conveyor serve "$@"
# in the caller's directory (so the defaults ./handlers and ./conveyor.db are relative to it;
# from the repo root that is the repo's handlers/).
#
# Idempotent and fast once set up: pip runs only when the stamp file in .venv does not match
# pyproject.toml's checksum and the repo path (an editable install points at the repo).
#
# Environment: PYTHON=/path/to/python3 picks the interpreter that creates .venv.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

say() { printf 'serve.sh: %s\n' "$*" >&2; }

# shellcheck source=scripts/venv-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/venv-lib.sh"

PY_CANDIDATES=("${PYTHON:-}" python3 python3.13 python3.12 python3.11 python)
KEY="$(cksum <"$ROOT/pyproject.toml") $ROOT"
# scripts/test.sh installs .[test], a superset of what serving needs: its stamp will do too.
ensure_venv "$ROOT/.venv" "3,11" ".installed-base .installed-test" "$KEY" -e "$ROOT"

exec "$ROOT/.venv/bin/conveyor" serve "$@"
