#!/usr/bin/env bash
# Create .venv with Python 3.11 (if missing or of another version) and install the project with its extras.
# Called by make when setup.cfg or pyproject.toml is newer than the stamp file.
#   scripts/venv.sh [EXTRAS [STAMP]]     default: test .venv/.proxima-installed
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-test}"
stamp="${2:-.venv/.proxima-installed}"

is_311() { "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; }

if [[ ! -x .venv/bin/python ]] || ! is_311 .venv/bin/python; then
    python=""
    for candidate in ${PYTHON:-} python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 && is_311 "$(command -v "$candidate")"; then
            python="$(command -v "$candidate")"; break
        fi
    done
    [[ -n $python ]] || { echo "ERROR: Python 3.11 is required (set PYTHON=/path/to/python3.11)." >&2; exit 1; }
    echo "==> Creating .venv with $python" >&2
    rm -rf .venv
    "$python" -m venv .venv
fi
echo "==> Installing the project into .venv (pip install -e \".[$extras]\"; a minute or two the first time)" >&2
log="$(mktemp -t proxima-pip.XXXXXX.log)"
if ! .venv/bin/pip install --disable-pip-version-check --progress-bar off -e ".[$extras]" >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "ERROR: pip install failed (full log: $log)" >&2
    exit 1
fi
grep -E '^Successfully installed' "$log" | cut -c1-300 | sed 's/^/    /' >&2 || true
rm -f "$log"
touch "$stamp"
