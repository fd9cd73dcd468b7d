"""The property tests at full strength: ``where=`` filters, run API call sequences, %track
lines and metadata (hypothesis), many more cases than CI runs; prints the case counts.

    python stress/fuzz.py [--quick] [--examples 5000]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time

from _common import REPO, report

FILES = {"filters": ("tests/test_hypothesis_filters.py", 1.0),
         "api_and_magics": ("tests/test_hypothesis_api.py", 0.2)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--examples", type=int, default=6000)
    args = parser.parse_args(argv)
    started = time.time()
    figures: dict = {}
    failed = False
    for label, (path, share) in FILES.items():
        examples = 100 if args.quick else max(100, int(args.examples * share))
        env = dict(os.environ, NBTRACK_FUZZ_EXAMPLES=str(examples))
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                               path, "--hypothesis-show-statistics"], cwd=REPO, env=env,
                              capture_output=True, text=True)
        passing = sum(int(n) for n in re.findall(r"- (\d+) passing", proc.stdout))
        failing = sum(int(n) for n in re.findall(r", (\d+) failing", proc.stdout))
        figures[label] = {"cases": passing + failing, "failing": failing,
                          "pytest_exit": proc.returncode}
        failed |= proc.returncode != 0
        if proc.returncode != 0:
            figures[label]["tail"] = proc.stdout[-800:]
    figures["cases"] = sum(v["cases"] for v in figures.values() if isinstance(v, dict))
    figures["_failed"] = failed
    return report("fuzz", figures, started)


if __name__ == "__main__":
    raise SystemExit(main())
