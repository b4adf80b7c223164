#!/usr/bin/env bash
# import-linter over the package as it is installed (a wheel's layout: tutor.widgets, tutor.progress, tutor.content
# live in the repo's widgets/, progress/ and content/ folders, which an editable install maps but grimp does not see).
# usage: tests/lint_imports.sh [PYTHON]   (default: .venv/bin/python)
set -euo pipefail
cd "$(dirname "$0")/.."
arg=${1:-.venv/bin/python}
PY="$(cd "$(dirname "$arg")" && pwd)/$(basename "$arg")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$PY" -m pip install -q --no-deps --no-build-isolation --target "$tmp/site" . 2>&1 | grep -v "^WARNING\|Location" || true
cp pyproject.toml "$tmp/"
cd "$tmp"
PYTHONPATH="$tmp/site" "$(dirname "$PY")/lint-imports" --config pyproject.toml
