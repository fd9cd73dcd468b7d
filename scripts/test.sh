#!/bin/sh
# Install what the tests need into .venv, lint, and run the whole test suite.
set -eu
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[test]"
.venv/bin/ruff check nbtrack tests benchmarks scripts
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
