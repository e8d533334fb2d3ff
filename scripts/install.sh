#!/usr/bin/env bash
# Install vitco into ./.venv with everything its tests need, plus the system parts of the
# sandbox (bubblewrap and the sandbox uid, via scripts/install-system.sh).
# Idempotent, non-interactive; PYTHON picks the interpreter (3.11 or newer).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-}"
if [ -z "$PYTHON" ]; then
    for candidate in python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            PYTHON="$candidate"
            break
        fi
    done
fi
if [ -z "$PYTHON" ]; then
    echo "install: vitco needs Python 3.11 or newer; set PYTHON=/path/to/python3.11" >&2
    exit 1
fi

bash scripts/install-system.sh

if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip </dev/null
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[dev]" </dev/null
echo "install: vitco $(.venv/bin/python -c 'import vitco; print(vitco.__version__)') is in .venv"
