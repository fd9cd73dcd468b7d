#!/bin/sh
# Debian's Chromium for the browser tests (tests/browser.py). Playwright drives it through
# executable_path; `playwright install` is never used (it downloads a browser of its own).
set -eu
if command -v chromium >/dev/null 2>&1; then exit 0; fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
chromium --version
