"""What checksums cost the read path: ``nbtrack.metrics()`` against a bare
``pl.scan_ipc(files).collect()`` of the same files, with every file's CRC-32 checked
(cold: nothing checked yet in this process) and with the per-process cache of checked
files (warm), and the checks alone. Prints ratios; nothing is asserted.

    .venv/bin/python benchmarks/bench_checksums.py [--runs 1000] [--steps 1000] [--reps 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path


def timed(fn, reps: int, before=None) -> float:
    times = []
    for _ in range(reps):
        if before is not None:
            before()
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="nbtrack-bench-ck-")) / "store"
    os.environ["NBTRACK_HOME"] = str(root)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import polars as pl

    import nbtrack
    from nbtrack.store import checksum, layout, metric_files

    for r in range(args.runs):
        with nbtrack.start_run("bench", params={"seed": r}) as run:
            for step in range(args.steps):
                run.log({"loss": 1 / (step + 1), "acc": step / args.steps, "lr": 0.1}, step=step)
    ids = nbtrack.runs()["run_id"].to_list()
    files = sorted(str(p) for p in root.glob("runs/*/metrics/*.arrow"))
    size = sum(os.path.getsize(f) for f in files)
    lay = layout.Layout(root)
    bare = timed(lambda: pl.scan_ipc(files).collect(), args.reps)
    warm = timed(lambda: nbtrack.metrics(ids), args.reps)
    cold = timed(lambda: nbtrack.metrics(ids), args.reps, before=checksum.forget)
    listing = timed(lambda: [metric_files.segment_files(lay, r, check=False) for r in ids],
                    args.reps)
    checks = timed(lambda: [checksum.mismatch(Path(f)) for f in files], args.reps,
                   before=checksum.forget)
    rows = nbtrack.metrics(ids).height
    print(f"{args.runs:,} runs x {args.steps:,} steps x 3 keys: {rows:,} points in "
          f"{len(files):,} files, {size / 1e6:.1f} MB (page cache warm)")
    print(f"  bare pl.scan_ipc(files).collect()        {bare:8.3f} s   1.00x")
    print(f"  metrics(ids), checked files cached       {warm:8.3f} s   {warm / bare:.2f}x")
    print(f"  metrics(ids), every file hashed (cold)   {cold:8.3f} s   {cold / bare:.2f}x")
    print(f"    of which listing {len(files):,} run folders     {listing:8.3f} s")
    print(f"    of which CRC-32 of every file          {checks:8.3f} s   "
          f"({size / checks / 1e9:.2f} GB/s)")
    print(f"target: <= 1.5x a bare scan: warm {'met' if warm / bare <= 1.5 else 'MISSED'}, "
          f"cold {'met' if cold / bare <= 1.5 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
