"""Workers of ``bench_s3.py``: one task per fresh process, store at ``$NBTRACK_HOME`` (a
folder or ``s3://bucket/prefix``; the ``AWS_*`` variables point at the server).

By hand: ``NBTRACK_HOME=/tmp/s python _s3_work.py write '{"runs": 10, "steps": 1000}'``.
Every task prints one ``RESULT {json}`` line.
"""

from __future__ import annotations

import statistics
import time

from _common import main, value

pc = time.perf_counter_ns


def write(runs: int, steps: int, flushes: int) -> dict:
    """``runs`` runs of ``steps`` steps x 3 keys, each flushed ``flushes`` times by hand
    (the background flusher is held off): the time of each flush, of each ``end()``
    (last flush, merge, summary row), and of each run from start to end."""
    import nbtrack

    flush_s, end_s, run_s, start_s = [], [], [], []
    every = max(1, steps // flushes)
    t_all = pc()
    for r in range(runs):
        t_run = pc()
        run = nbtrack.start_run("bench-s3", params={"r": r, "lr": 1e-3})
        start_s.append((pc() - t_run) / 1e9)
        for i in range(steps):
            run.log({"loss": value(i + r), "acc": value(i + r + 1), "lr": 1e-3}, step=i)
            if (i + 1) % every == 0 and i + 1 < steps:
                t0 = pc()
                run.flush()
                flush_s.append((pc() - t0) / 1e9)
        t0 = pc()
        run.end()
        end_s.append((pc() - t0) / 1e9)
        run_s.append((pc() - t_run) / 1e9)
    return {
        "runs": runs, "steps": steps, "points_per_flush": every * 3,
        "flush_median_s": statistics.median(flush_s), "flush_p90_s": _p90(flush_s),
        "end_median_s": statistics.median(end_s), "start_median_s": statistics.median(start_s),
        "run_median_s": statistics.median(run_s), "total_s": (pc() - t_all) / 1e9,
    }


def read(reps: int) -> dict:
    """``runs()`` and ``metrics(ids)`` in a fresh process: the first call (polars imported
    before it) and the median of ``reps`` more."""
    import polars  # noqa: F401 - imported before timing, as a notebook has it

    import nbtrack

    t0 = pc()
    frame = nbtrack.runs()
    runs_cold = (pc() - t0) / 1e9
    ids = frame["run_id"].to_list()
    t0 = pc()
    points = nbtrack.metrics(ids)
    metrics_cold = (pc() - t0) / 1e9
    runs_warm, metrics_warm = [], []
    for _ in range(reps):
        t0 = pc()
        nbtrack.runs()
        runs_warm.append((pc() - t0) / 1e9)
        t0 = pc()
        nbtrack.metrics(ids)
        metrics_warm.append((pc() - t0) / 1e9)
    return {
        "runs": frame.height, "points": points.height,
        "runs_cold_s": runs_cold, "runs_warm_s": statistics.median(runs_warm),
        "metrics_cold_s": metrics_cold, "metrics_warm_s": statistics.median(metrics_warm),
    }


def _p90(xs: list[float]) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(0.9 * (len(s) - 1)))]


if __name__ == "__main__":
    main({"write": write, "read": read})
