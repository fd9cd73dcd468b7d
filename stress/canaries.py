"""Secrets and hostile paths: the canary test (30+ canary secrets through every route,
every store file Arrow-decoded, every export and run page searched) and the traversal
test (every path-like argument given ../, absolute paths, %2e%2e, NUL, backslashes,
symbolic links), repeated; prints canaries planted and found.

    python stress/canaries.py [--quick] [--rounds 3]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time

from _common import REPO, report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    started = time.time()
    rounds = 1 if args.quick else args.rounds
    sys.path.insert(0, str(REPO / "tests"))
    import test_canaries
    import test_traversal

    planted = len(test_canaries.C) + 2  # and the two argv canaries made in the test
    passed = failed = 0
    tails = []
    for _ in range(rounds):
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                               "tests/test_canaries.py", "tests/test_traversal.py"],
                              cwd=REPO, capture_output=True, text=True)
        m = re.search(r"(\d+) passed", proc.stdout)
        passed += int(m.group(1)) if m else 0
        f = re.search(r"(\d+) failed", proc.stdout)
        failed += int(f.group(1)) if f else 0
        if proc.returncode != 0:
            tails.append(proc.stdout[-800:])
    figures = {"rounds": rounds, "canaries_planted": planted, "routes": len(test_canaries.CELLS)
               + 9, "canaries_found": "0" if not failed else "see failures",
               "hostile_paths": len(test_traversal.HOSTILE), "tests_passed": passed,
               "tests_failed": failed, "failures": tails[:1]}
    figures["_failed"] = bool(failed)
    return report("canaries", figures, started)


if __name__ == "__main__":
    raise SystemExit(main())
