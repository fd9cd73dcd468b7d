"""What notebook capture costs per executed cell, and a run start in a kernel.

Runs N small cells through an IPython shell without nbtrack, then with
``%load_ext nbtrack`` and an active run, and prints the added time per cell
(target: <= 100 us) next to the bare cell time measured in the same process.
The pre/post hooks are also timed alone, with a namespace of 50 and of 1,000
user names (the id() snapshot grows with it).

    .venv/bin/python benchmarks/bench_capture.py [--quick]
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from types import SimpleNamespace


def cells_per_second(shell, n: int, source: str = "x = 1") -> list[float]:
    """Per-cell seconds in chunks of 100, so a median ignores flusher hiccups."""
    chunks = []
    for _ in range(n // 100):
        t0 = time.perf_counter()
        for _ in range(100):
            shell.run_cell(source, store_history=True)
        chunks.append((time.perf_counter() - t0) / 100)
    return chunks


def hook_cost(shell, names: int, n: int) -> float:
    from nbtrack.capture import ipython as capture

    for i in range(names):
        shell.user_ns[f"v{i}"] = i
    rec = capture.installed(shell)["cells"]
    info = SimpleNamespace(raw_cell="y = 2\nz = y * 3", store_history=True, cell_id=None)
    result = SimpleNamespace(info=info, error_in_exec=None, error_before_exec=None,
                             execution_count=1)
    t0 = time.perf_counter()
    for _ in range(n):
        rec.pre_run_cell(info)
        rec.post_run_cell(result)
    took = (time.perf_counter() - t0) / n
    for i in range(names):
        del shell.user_ns[f"v{i}"]
    return took


def measure(mode: str, n: int) -> None:
    """In this process: run n cells (after a warm-up) and print the median per-cell time."""
    os.environ["NBTRACK_HOME"] = tempfile.mkdtemp(prefix="nbtrack-bench-")
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    if mode == "tracked":
        shell.run_cell("%load_ext nbtrack", store_history=True)
        shell.run_cell("%track start bench", store_history=True)
    cells_per_second(shell, 200)
    chunks = cells_per_second(shell, n)
    print(statistics.median(chunks))
    if mode == "tracked":
        print(hook_cost(shell, 50, 2000))
        print(hook_cost(shell, 1000, 500))


def main() -> None:
    import subprocess

    quick = "--quick" in sys.argv
    n = 500 if quick else 3000
    results = {}
    # two fresh processes: IPython's own per-cell cost grows with its history, so the
    # bare and tracked shells must have run the same number of cells
    for mode in ("bare", "tracked"):
        out = subprocess.run([sys.executable, __file__, "--measure", mode, str(n)],
                             capture_output=True, text=True, check=True).stdout.split()
        results[mode] = [float(x) for x in out[-3:]] if mode == "tracked" else [float(out[-1])]
    bare = results["bare"][0]
    tracked, hooks_50, hooks_1000 = results["tracked"]

    os.environ["NBTRACK_HOME"] = tempfile.mkdtemp(prefix="nbtrack-bench-")
    import nbtrack

    t0 = time.perf_counter()
    nbtrack.start_run("bench-first").end()
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(50):
        nbtrack.start_run("bench-empty").end()
    empty_run = (time.perf_counter() - t0) / 50

    print(f"cells per measurement: {n} (after 200 warm-up cells), median of 100-cell chunks")
    print(f"bare IPython cell              {bare * 1e6:9.1f} us")
    print(f"cell with capture + active run {tracked * 1e6:9.1f} us")
    print(f"added per cell                 {(tracked - bare) * 1e6:9.1f} us   (target <= 100 us)"
          f"   ratio to bare cell {tracked / bare:.2f}x")
    print(f"pre+post hooks alone, 50 names   {hooks_50 * 1e6:7.1f} us")
    print(f"pre+post hooks alone, 1000 names {hooks_1000 * 1e6:7.1f} us")
    print(f"first run start+end in a process (env capture, imports) {first * 1e3:7.1f} ms")
    print(f"empty run start+end afterwards                          {empty_run * 1e3:7.2f} ms")


if __name__ == "__main__":
    if "--measure" in sys.argv:
        i = sys.argv.index("--measure")
        measure(sys.argv[i + 1], int(sys.argv[i + 2]))
    else:
        main()
