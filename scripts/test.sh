#!/bin/sh
# Install what the tests need into .venv, lint, and run the whole test suite.
set -eu
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
./scripts/build_js.sh
.venv/bin/python -m pip install --quiet -e ".[test]"
# the browser tests drive Debian's Chromium (Playwright's own browser download is never used)
command -v chromium >/dev/null 2>&1 || ./scripts/install_chromium.sh
.venv/bin/ruff check nbtrack tests benchmarks scripts
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
