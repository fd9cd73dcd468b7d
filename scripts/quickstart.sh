#!/bin/sh
# One command on a fresh machine: install everything into .venv, then execute
# notebooks/quickstart.ipynb end to end in a real kernel and print the runs it made.
set -eu
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
./scripts/build_js.sh
.venv/bin/python -m pip install --quiet -e ".[notebook]"
exec .venv/bin/python scripts/run_quickstart.py
