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


def measure(n: int) -> None:
    """In this process: blocks of 100 cells, alternately with capture (extension loaded,
    a run active) and without, so both see the same IPython history length and the
    same machine noise; prints the two medians and the hook costs."""
    os.environ["NBTRACK_HOME"] = tempfile.mkdtemp(prefix="nbtrack-bench-")
    from IPython.core.interactiveshell import InteractiveShell

    from nbtrack.capture import ipython as capture

    shell = InteractiveShell.instance()
    cells_per_second(shell, 200)
    bare, tracked = [], []
    shell.run_cell("%load_ext nbtrack", store_history=True)
    shell.run_cell("%track start bench", store_history=True)
    rec = capture.installed(shell)["cells"]
    hooks = (("pre_run_cell", rec.pre_run_cell), ("post_run_cell", rec.post_run_cell))
    for block in range(n // 100):
        # alternate which goes first, so neither always follows the other's aftermath
        for mode in (("tracked", "bare") if block % 2 else ("bare", "tracked")):
            if mode == "tracked":
                tracked += cells_per_second(shell, 100)
            else:
                for name, fn in hooks:
                    shell.events.unregister(name, fn)
                bare += cells_per_second(shell, 100)
                for name, fn in hooks:
                    shell.events.register(name, fn)
    print(statistics.median(bare))
    print(statistics.median(tracked))
    print(hook_cost(shell, 50, 2000))
    print(hook_cost(shell, 1000, 500))


def main() -> None:
    import subprocess

    quick = "--quick" in sys.argv
    n = 500 if quick else 3000
    out = subprocess.run([sys.executable, __file__, "--measure", str(n)],
                         capture_output=True, text=True, check=True).stdout.split()
    numbers = []
    for token in out:
        try:
            numbers.append(float(token))
        except ValueError:
            pass
    bare, tracked, hooks_50, hooks_1000 = numbers[-4:]

    os.environ["NBTRACK_HOME"] = tempfile.mkdtemp(prefix="nbtrack-bench-")
    import nbtrack

    t0 = time.perf_counter()
    nbtrack.start_run("bench-first").end()
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(50):
        nbtrack.start_run("bench-empty").end()
    empty_run = (time.perf_counter() - t0) / 50

    print(f"{n} cells each way, in alternating blocks of 100 in one process (same history,"
          " same noise); medians of the blocks")
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
        measure(int(sys.argv[sys.argv.index("--measure") + 1]))
    else:
        main()
