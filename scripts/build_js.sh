#!/bin/sh
# Build the panels' JavaScript (js/ -> nbtrack/ui/static/) with esbuild from npm, when the bundle
# is missing or older than its sources. Needs Node.js and npm; `npm ci` installs exactly what
# js/package-lock.json names. `--force` rebuilds anyway.
set -eu
cd "$(dirname "$0")/../js"
if ! command -v npm >/dev/null 2>&1; then
  echo "build_js: npm not found; install Node.js (>= 18) and npm to build nbtrack's panels" >&2
  exit 1
fi
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
manifest=../nbtrack/ui/static/manifest.json
if [ "${1:-}" = "--force" ] || [ ! -f "$manifest" ] || [ ! -f ../nbtrack/ui/static/runtime.js ] \
  || [ -n "$(find src build.mjs package-lock.json -newer "$manifest" -print -quit)" ]; then
  node build.mjs
fi
