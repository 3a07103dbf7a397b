# shellcheck shell=bash
# Shared by scripts/serve.sh, scripts/test.sh and scripts/check-deploy.sh (sourced, not run).
# Expects the caller to define `say MESSAGE` and the array PY_CANDIDATES.

# first_python MIN CANDIDATE...: print sys.executable of the first candidate that runs and is
# at least MIN (e.g. "3,11"). Running it matters: a pyenv shim can be on PATH and still fail.
first_python() {
    local min=$1 cand
    shift
    for cand in "$@"; do
        [ -n "$cand" ] || continue
        if "$cand" -c "import sys; sys.exit(sys.version_info < ($min))" >/dev/null 2>&1; then
            "$cand" -c 'import sys; print(sys.executable)'
            return 0
        fi
    done
    return 1
}

# ensure_venv DIR MIN "STAMP [ALSO_OK...]" KEY PIP_ARGS...
# Create DIR (with the first of PY_CANDIDATES that is >= MIN) if it is missing or its Python
# no longer runs, then `pip install PIP_ARGS` unless one of the stamp files already holds KEY.
# The first STAMP is written only after a successful install, so a broken one is retried.
# Returns 1 (after saying why) when no Python fits or pip fails.
ensure_venv() {
    local dir=$1 min=$2 stamps=$3 key=$4 python s
    shift 4
    if [ -e "$dir" ] && ! "$dir/bin/python" -c "import sys; sys.exit(sys.version_info < ($min))" \
        >/dev/null 2>&1; then
        say "$dir is unusable (its Python is gone or too old): recreating it"
        rm -rf "$dir"
    fi
    if [ ! -e "$dir" ]; then
        python=$(first_python "$min" "${PY_CANDIDATES[@]}") || {
            say "error: no Python >= ${min/,/.} found to create $dir (set PYTHON=/path/to/python3)"
            return 1
        }
        say "creating $dir with $("$python" --version 2>&1)"
        "$python" -m venv "$dir"
    fi
    for s in $stamps; do
        if [ "$(cat "$dir/$s" 2>/dev/null)" = "$key" ]; then
            return 0
        fi
    done
    say "pip install $* (log: $dir/pip.log)"
    if ! "$dir/bin/python" -m pip install --disable-pip-version-check "$@" >"$dir/pip.log" 2>&1; then
        tail -n 40 "$dir/pip.log" >&2
        say "error: pip install failed (full log: $dir/pip.log)"
        return 1
    fi
    printf '%s\n' "$key" >"$dir/${stamps%% *}"
}
