# Sourced by scripts/run, scripts/test and scripts/check: make sure .venv exists and holds zkagg.
# Creates .venv in the repository root when missing, and (re)installs when pyproject.toml changed.
# torch is asked for at exactly 2.13.0 first: on CPU machines pip finds that CPU wheel locally
# and never pulls a multi-gigabyte CUDA build. ZKAGG_TORCH overrides the requirement elsewhere.
# The optional extras (ray, flower, bench) are installed too, so that CI runs their tests.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="${PYTHON:-python3}"
STAMP="$VENV/.zkagg-installed"
WANT="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
if [ ! -x "$VENV/bin/python" ]; then
    echo "zkagg: creating $VENV" >&2
    "$PY" -m venv "$VENV"
fi
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
    echo "zkagg: installing zkagg and its dependencies into $VENV (a few minutes the first time)" >&2
    # pip's own output (warnings, setuptools' editable-install banner) goes to a log, shown only
    # when a step fails.
    LOG="$VENV/pip-install.log"
    : > "$LOG"
    _zkagg_pip() {
        if ! "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$@" >> "$LOG" 2>&1; then
            echo "zkagg: pip install $* failed; its output ($LOG):" >&2
            cat "$LOG" >&2
            return 1
        fi
    }
    _zkagg_pip --upgrade pip
    _zkagg_pip "${ZKAGG_TORCH:-torch==2.13.0}"
    _zkagg_pip -e "$ROOT[dev,ray,flower,bench]"
    echo "$WANT" > "$STAMP"
    echo "zkagg: installed (pip's log: $LOG)" >&2
fi
export PATH="$VENV/bin:$PATH"
