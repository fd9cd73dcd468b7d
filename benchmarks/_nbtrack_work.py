"""nbtrack side of the core benchmark: one task per process, store at ``$NBTRACK_HOME``.

Run by ``bench_core.py``; by hand: ``NBTRACK_HOME=/tmp/s python _nbtrack_work.py log_loop
'{"n": 100000, "chunk": 10000}'``. Every task prints one ``RESULT {json}`` line.
"""

from __future__ import annotations

import gc
import os
import statistics
import time
from pathlib import Path

from _common import (
    MASK,
    chunk_stats,
    dir_bytes,
    main,
    peak_rss_kb,
    random_values,
    reset_peak_rss,
    rss_kb,
    value,
)

pc = time.perf_counter_ns


def _store() -> Path:
    return Path(os.environ["NBTRACK_HOME"])


def _metric_bytes(run_id: str) -> tuple[int, int]:
    return dir_bytes(_store() / "runs" / run_id / "metrics", "*.arrow")


# ------------------------------------------------------------------ log loops
def _writer_warmed() -> None:
    """Wait for the flusher's one-time warm-up of the Arrow writer (its import, done on
    start_run's thread before issue 15): these loops time the steady state;
    ``bench_fixed.py`` times the first second of a loop."""
    from nbtrack import flushing

    warmed = getattr(flushing, "warmed", None)
    if warmed is not None:
        warmed.wait(60)


def _floor_pass(n: int, chunk: int) -> list[int]:
    """The floor: the same loop appending ``(i, x)`` to a list."""
    chunks = []
    rows: list = []
    vals, mask = random_values(), MASK
    for start in range(0, n, chunk):
        t0 = pc()
        for i in range(start, start + chunk):
            rows.append((i, vals[i & mask]))
        chunks.append(pc() - t0)
    del rows
    gc.collect()
    return chunks


def log_loop(n: int, chunk: int) -> dict:
    """``run.log({"loss": x}, step=i)`` n times, timed in chunks; floor before and after."""
    import nbtrack

    floor_a = _floor_pass(n, chunk)
    run = nbtrack.start_run("bench-log")
    _writer_warmed()
    vals, mask = random_values(), MASK
    chunks = []
    t_all = pc()
    for start in range(0, n, chunk):
        t0 = pc()
        for i in range(start, start + chunk):
            run.log({"loss": vals[i & mask]}, step=i)
        chunks.append(pc() - t0)
    loop_ns = pc() - t_all
    files_before_end = _metric_bytes(run.id)[1]
    t0 = pc()
    run.end()
    end_ns = pc() - t0
    floor_b = _floor_pass(n, chunk)
    disk, files_after = _metric_bytes(run.id)
    floor = chunk_stats(floor_a + floor_b, chunk)
    return {
        "calls": n,
        "log": chunk_stats(chunks, chunk),
        "mean_incl_end_ns": (loop_ns + end_ns) / n,
        "end_s": end_ns / 1e9,
        "floor": floor,
        "flush_files_before_end": files_before_end,
        "files_after_end": files_after,
        "disk_bytes_per_point": disk / n,
    }


def log_wide(steps: int, keys: int, chunk: int) -> dict:
    """``run.log(d, step=i)`` with ``keys`` metrics per call (the same dict every step)."""
    import nbtrack

    names = [f"metric_{j:02d}" for j in range(keys)]
    d = {k: value(j) for j, k in enumerate(names)}

    floor_chunks = []
    rows: list = []
    for start in range(0, steps, chunk):
        t0 = pc()
        for i in range(start, start + chunk):
            for k, v in d.items():
                rows.append((i, k, v))
        floor_chunks.append(pc() - t0)
    del rows
    gc.collect()

    run = nbtrack.start_run("bench-wide")
    _writer_warmed()
    chunks = []
    t_all = pc()
    for start in range(0, steps, chunk):
        t0 = pc()
        for i in range(start, start + chunk):
            run.log(d, step=i)
        chunks.append(pc() - t0)
    loop_ns = pc() - t_all
    t0 = pc()
    run.end()
    end_ns = pc() - t0
    disk, files = _metric_bytes(run.id)
    points = steps * keys
    return {
        "steps": steps,
        "keys": keys,
        "points": points,
        "per_call": chunk_stats(chunks, chunk),
        "per_point": chunk_stats(chunks, chunk * keys),
        "floor_per_point": chunk_stats(floor_chunks, chunk * keys),
        "mean_incl_end_ns_per_point": (loop_ns + end_ns) / points,
        "end_s": end_ns / 1e9,
        "files_after_end": files,
        "disk_bytes_per_point": disk / points,
    }


# ------------------------------------------------------------------ memory
def memory(n: int, preload_polars: bool = False) -> dict:
    """Peak RSS growth while logging ``n`` points into one run, and through ``end()``.

    ``preload_polars`` imports polars before the baseline, to tell what ``end()``
    costs in data from what importing polars costs.
    """
    vals, mask = random_values(), MASK
    rss_start = rss_kb()
    import nbtrack

    if preload_polars:
        import polars  # noqa: F401

    rss_import = rss_kb()
    run = nbtrack.start_run("bench-memory")
    run.log({"loss": 0.0}, step=0)
    run.flush()  # pyarrow is loaded and one segment written before the baseline
    time.sleep(0.2)
    gc.collect()
    rss_base = rss_kb()
    reset_ok = reset_peak_rss()
    hwm_base = peak_rss_kb()
    baseline = rss_base if reset_ok else max(rss_base, hwm_base)
    t0 = pc()
    for i in range(1, n):
        run.log({"loss": vals[i & mask]}, step=i)
    log_ns = pc() - t0
    hwm_logged = peak_rss_kb()
    rss_logged = rss_kb()
    t0 = pc()
    run.end()
    end_ns = pc() - t0
    hwm_end = peak_rss_kb()
    disk, files = _metric_bytes(run.id)
    return {
        "points": n,
        "preload_polars": preload_polars,
        "peak_reset": reset_ok,
        "rss_before_import_mb": rss_start / 1024,
        "rss_after_import_mb": rss_import / 1024,
        "rss_baseline_mb": baseline / 1024,
        "peak_growth_logging_mb": (hwm_logged - baseline) / 1024,
        "rss_growth_after_logging_mb": (rss_logged - baseline) / 1024,
        "peak_growth_incl_end_mb": (hwm_end - baseline) / 1024,
        "peak_growth_from_import_mb": (hwm_end - rss_import) / 1024,
        "log_mean_ns": log_ns / (n - 1),
        "end_s": end_ns / 1e9,
        "disk_bytes": disk,
        "disk_files": files,
        "disk_bytes_per_point": disk / n,
    }


def import_rss(module: str) -> dict:
    """RSS added by importing ``module`` alone."""
    import importlib

    before = rss_kb()
    importlib.import_module(module)
    return {"module": module, "rss_mb": (rss_kb() - before) / 1024}


# ------------------------------------------------------------------ run creation
def run_start(n: int) -> dict:
    """Start and end ``n`` empty runs; ms per run."""
    import nbtrack

    nbtrack.start_run("bench-warmup").end()
    each = []
    for _ in range(n):
        t0 = pc()
        nbtrack.start_run("bench-empty").end()
        each.append(pc() - t0)
    return {
        "runs": n,
        "median_ms": statistics.median(each) / 1e6,
        "mean_ms": sum(each) / n / 1e6,
        "p90_ms": sorted(each)[int(0.9 * (n - 1))] / 1e6,
    }


def build_runs(n: int, probe_at: int = 0) -> dict:
    """``n`` runs with params, tags and one logged step: what ``runs()`` will list.

    With ``probe_at``, ``runs()`` is also timed (warm, median of 3) once that many
    runs exist, so a baseline measured at a smaller size (MLflow's) has a like figure.
    """
    import nbtrack

    blocks = 10 if n >= 10 else 1
    per_block = n // blocks
    block_ms = []
    probe = None
    t_all = pc()
    made = 0
    for _ in range(blocks):
        t0 = pc()
        for _ in range(per_block):
            i = made
            run = nbtrack.start_run(
                f"exp-{i % 10}",
                params={"lr": 10 ** -(1 + i % 4), "batch_size": 2 ** (4 + i % 4),
                        "opt": {"name": ("adam", "sgd")[i % 2]}},
                tags=["bench", f"group-{i % 3}"],
            )
            run.log({"loss": value(i), "acc": value(i + 1)}, step=0)
            run.end()
            made += 1
            if made == probe_at:
                t_probe = pc()
                nbtrack.runs()
                warm = [_timed(nbtrack.runs)[0] for _ in range(3)]
                probe = {"runs": made, "warm_median_s": statistics.median(warm)}
                t0 += pc() - t_probe  # not part of the creation figures
                t_all += pc() - t_probe
        block_ms.append((pc() - t0) / per_block / 1e6)
    total = pc() - t_all
    index_bytes, index_files = dir_bytes(_store() / "index")
    return {
        "runs": made,
        "total_s": total / 1e9,
        "mean_ms_per_run": total / made / 1e6,
        "first_block_ms_per_run": block_ms[0],
        "last_block_ms_per_run": block_ms[-1],
        "index_files": index_files,
        "index_bytes": index_bytes,
        "probe": probe,
    }


def build_metrics(runs: int, steps: int) -> dict:
    """``runs`` runs of ``steps`` steps of three metrics each."""
    import nbtrack

    t_all = pc()
    for r in range(runs):
        run = nbtrack.start_run("bench-metrics", params={"seed": r})
        for s in range(steps):
            k = 3 * (s + steps * r)
            run.log({"loss": value(k), "acc": value(k + 1), "lr": value(k + 2)}, step=s)
        run.end()
    total = pc() - t_all
    disk, files = dir_bytes(_store() / "runs", "*.arrow")
    points = runs * steps * 3
    return {
        "runs": runs,
        "steps": steps,
        "points": points,
        "total_s": total / 1e9,
        "mean_ms_per_run": total / runs / 1e6,
        "metric_files": files,
        "disk_bytes_per_point": disk / points,
    }


# ------------------------------------------------------------------ queries
def _timed(fn) -> tuple[float, object]:
    t0 = pc()
    out = fn()
    return (pc() - t0) / 1e9, out


def query_runs(reps: int) -> dict:
    """``nbtrack.runs()`` cold (first call in a process) and warm, against two baselines."""
    import nbtrack

    cold_s, frame = _timed(nbtrack.runs)
    import polars as pl

    index_dir = _store() / "index"
    arrow_files = sorted(p for p in index_dir.glob("*.arrow") if not p.name.startswith("."))
    json_files = [p for p in index_dir.glob("*.json") if not p.name.startswith(".")]
    dicts = frame.to_dicts()

    def read_index():
        return pl.concat([pl.read_ipc(p) for p in arrow_files]) if arrow_files else None

    def from_dicts():
        return pl.DataFrame(dicts)

    warm, base_ipc, base_dicts = [], [], []
    for _ in range(reps):
        warm.append(_timed(nbtrack.runs)[0])
        if arrow_files:
            base_ipc.append(_timed(read_index)[0])
        base_dicts.append(_timed(from_dicts)[0])
    return {
        "rows": frame.height,
        "columns": frame.width,
        "cold_s": cold_s,
        "warm_median_s": statistics.median(warm),
        "warm_min_s": min(warm),
        "reps": reps,
        "index_arrow_files": len(arrow_files),
        "index_json_files": len(json_files),
        "baseline_read_ipc_s": statistics.median(base_ipc) if base_ipc else None,
        "baseline_from_dicts_s": statistics.median(base_dicts),
    }


def query_metrics(reps: int) -> dict:
    """``nbtrack.metrics(...)`` warm against a bare ``pl.scan_ipc(files).collect()``."""
    import nbtrack

    runs_dir = _store() / "runs"
    ids = sorted(p.name for p in runs_dir.iterdir() if p.is_dir())
    files = sorted(
        p for p in runs_dir.glob("*/metrics/*.arrow") if not p.name.startswith(".")
    )
    cold_s, frame = _timed(lambda: nbtrack.metrics(ids))
    import polars as pl

    def bare():
        return pl.scan_ipc(files).collect()

    t_ids, t_all, t_bare, t_key = [], [], [], []
    for _ in range(reps):
        t_bare.append(_timed(bare)[0])
        t_ids.append(_timed(lambda: nbtrack.metrics(ids))[0])
        t_all.append(_timed(nbtrack.metrics)[0])
        t_key.append(_timed(lambda: nbtrack.metrics(ids, keys=["loss"]))[0])
    bare_rows = bare().height
    return {
        "runs": len(ids),
        "files": len(files),
        "rows": frame.height,
        "bare_rows": bare_rows,
        "cold_s": cold_s,
        "reps": reps,
        "metrics_ids_median_s": statistics.median(t_ids),
        "metrics_all_median_s": statistics.median(t_all),
        "metrics_one_key_median_s": statistics.median(t_key),
        "bare_scan_median_s": statistics.median(t_bare),
        "ratio_ids_to_bare": statistics.median(t_ids) / statistics.median(t_bare),
        "ratio_all_to_bare": statistics.median(t_all) / statistics.median(t_bare),
    }


TASKS = {
    "log_loop": log_loop,
    "log_wide": log_wide,
    "memory": memory,
    "import_rss": import_rss,
    "run_start": run_start,
    "build_runs": build_runs,
    "build_metrics": build_metrics,
    "query_runs": query_runs,
    "query_metrics": query_metrics,
}

if __name__ == "__main__":
    main(TASKS)
