#!/usr/bin/env bash
# Set up a virtualenv from pyproject.toml and run the checks CI runs: ruff lint, ruff format
# and mypy --strict on the package. All three run; the exit status is non-zero if any failed.
# Usage: bash scripts/lint.sh          (bash scripts/lint.sh --fix: apply ruff's safe fixes and
#                                       reformat first, then check)
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${NONO_VENV:-.venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check -e '.[test,lint]'
paths=(nonoc tests benchmarks)
if [ "${1:-}" = "--fix" ]; then
  "$venv/bin/python" -m ruff check --fix "${paths[@]}" || true
  "$venv/bin/python" -m ruff format "${paths[@]}"
fi
status=0
echo "== ruff check" && "$venv/bin/python" -m ruff check "${paths[@]}" || status=1
echo "== ruff format --check" && "$venv/bin/python" -m ruff format --check "${paths[@]}" || status=1
echo "== mypy --strict nonoc" && "$venv/bin/python" -m mypy --strict nonoc || status=1
exit "$status"
