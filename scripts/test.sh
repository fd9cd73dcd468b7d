#!/bin/sh
# Install what the tests need into .venv, lint, and run the whole test suite.
set -eu
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
./scripts/build_js.sh
.venv/bin/python -m pip install --quiet -e ".[test]"
# torch's CPU wheel where this machine keeps one locally (PIP_FIND_LINKS): the torch tests then run;
# never a download (from PyPI that would be a multi-GB CUDA build)
.venv/bin/python -c "import torch" 2>/dev/null || .venv/bin/python -m pip install --quiet --no-index "torch>=2.9" \
  2>/dev/null || echo "test.sh: no local torch wheel; the few torch tests will be skipped"
# the browser tests drive Debian's Chromium (Playwright's own browser download is never used)
command -v chromium >/dev/null 2>&1 || ./scripts/install_chromium.sh
.venv/bin/ruff check nbtrack tests benchmarks scripts
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
