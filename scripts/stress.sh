#!/bin/sh
# The suite that tries to break the store, at full strength (minutes, not CI):
# kill -9 at random moments, 8 writers under concurrent readers, a bit flip at every byte
# and truncation at every offset, a full disk with and without space coming back, the
# property tests with thousands of cases, canary secrets and hostile paths; then what
# checksums cost the read path. Prints one FIGURES line per driver and a summary.
#   ./scripts/stress.sh            everything          ./scripts/stress.sh --quick   smoke run
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
QUICK=""
[ "${1:-}" = "--quick" ] && QUICK="--quick"
log=$(mktemp)
status=0
for driver in kills concurrency corruption full_disk fuzz canaries; do
    echo "== stress/$driver.py $QUICK"
    if ! $PY stress/$driver.py $QUICK | tee -a "$log" | grep '^FIGURES'; then
        status=1
        echo "   stress/$driver.py FAILED"
    fi
done
echo "== read path: checksums against a bare scan"
if [ -n "$QUICK" ]; then
    $PY benchmarks/bench_checksums.py --runs 100 --steps 200 --reps 3 || status=1
else
    $PY benchmarks/bench_checksums.py || status=1
fi
echo "== summary"
grep '^FIGURES' "$log" | cut -c1-400
rm -f "$log"
[ $status -eq 0 ] && echo "stress: every check held" || echo "stress: SOMETHING BROKE (see above)"
exit $status
