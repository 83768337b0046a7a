#!/usr/bin/env bash
# Set up a virtualenv from pyproject.toml and run the whole test suite.
# Usage: bash scripts/test.sh [pytest args…]
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${NONO_VENV:-.venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check -e '.[test]'
exec "$venv/bin/python" -m pytest "$@"
