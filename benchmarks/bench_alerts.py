"""What alerts cost ``run.log``: unrelated keys, watched keys, and the code before alerts.

    .venv/bin/python benchmarks/bench_alerts.py            # 2,000,000 calls per variant
    .venv/bin/python benchmarks/bench_alerts.py --quick
    .venv/bin/python benchmarks/bench_alerts.py --before <git rev>

In one process, interleaved in blocks (so machine noise hits every variant alike),
``run.log({"loss": x}, step=i)`` is timed on:

- ``before``: ``Run`` as it was before alerts (``nbtrack/run.py`` at ``--before``,
  default the parent of the commit that added them), loaded from git;
- ``none``: today's ``Run`` with no alert;
- ``other``: today's ``Run`` with an alert on another key (``val_loss > 2.0``);
- ``watched``: today's ``Run`` logging the key its alert watches (the checking path).

Runs are built directly (no flusher thread), so only ``log`` itself is timed; points
stay in memory. Figures are medians of per-call times over blocks; ratios are against
``before``. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))


def _before_rev() -> str:
    found = subprocess.run(
        ["git", "log", "-S", "self._fast", "--format=%H", "--", "nbtrack/run.py"],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout.split()
    return f"{found[-1]}^" if found else "HEAD"


def _load_old_run_class(rev: str):
    """``nbtrack/run.py`` at ``rev`` as a module inside the nbtrack package."""
    source = subprocess.run(["git", "show", f"{rev}:nbtrack/run.py"], cwd=REPO,
                            capture_output=True, text=True, check=True).stdout
    spec = importlib.util.spec_from_loader("nbtrack._run_before_alerts", loader=None)
    module = importlib.util.module_from_spec(spec)
    module.__package__ = "nbtrack"
    exec(compile(source, f"<run.py at {rev}>", "exec"), module.__dict__)  # noqa: S102 - our own file from git
    return module.Run


def _timed(run, n: int, values: list[float], key: str) -> float:
    """ns per call of ``run.log({key: x}, step=i)`` over ``n`` calls."""
    log = run.log
    mask = len(values) - 1
    start = time.perf_counter_ns()
    for i in range(n):
        log({key: values[i & mask]}, step=i)
    return (time.perf_counter_ns() - start) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--before", help="git rev of nbtrack/run.py before alerts")
    args = parser.parse_args()
    import random

    from nbtrack.ids import new_run_id
    from nbtrack.run import Run
    from nbtrack.store.layout import Layout

    rev = args.before or _before_rev()
    OldRun = _load_old_run_class(rev)
    rng = random.Random(7)
    values = [rng.random() for _ in range(1 << 16)]
    block = 20_000 if args.quick else 100_000
    rounds = 5 if args.quick else 20
    with tempfile.TemporaryDirectory(prefix="nbtrack-bench-alerts-") as tmp:
        layout = Layout(Path(tmp) / "store")

        def make(cls, alert: bool):
            run = cls(layout, new_run_id(), "bench", "bench", owner=True)
            run.log({"loss": 0.0, "val_loss": 0.0}, step=0)  # keys known: the fast path
            if alert:
                run.alert("val_loss > 2.0", message="diverging")
            return run

        variants = {
            "before": (lambda: make(OldRun, False), "loss"),
            "none": (lambda: make(Run, False), "loss"),
            "other": (lambda: make(Run, True), "loss"),
            "watched": (lambda: make(Run, True), "val_loss"),
        }
        times: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(rounds):
            for name, (factory, key) in variants.items():
                run = factory()
                _timed(run, 1000, values, key)  # warm up
                gc.disable()
                try:
                    times[name].append(_timed(run, block, values, key))
                finally:
                    gc.enable()
                del run
    base = statistics.median(times["before"])
    print(f"run.log 1 key, {rounds} blocks of {block:,} calls per variant, interleaved; "
          f"'before' = nbtrack/run.py at {rev}")
    for name in variants:
        med = statistics.median(times[name])
        print(f"  {name:8s} median {med:7.1f} ns/call  (min {min(times[name]):6.1f})  "
              f"{med / base:5.3f}x before")


if __name__ == "__main__":
    main()
