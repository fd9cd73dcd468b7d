"""MLflow side of the core benchmark: the same work through MLflow's local file store.

The store is ``$MLFLOW_TRACKING_URI`` (``file://...``; MLflow 3 needs
``MLFLOW_ALLOW_FILE_STORE=true`` for it, which ``bench_core.py`` sets). One task
per process, one ``RESULT {json}`` line each, like ``_nbtrack_work.py``.
"""

from __future__ import annotations

import logging
import os
import statistics
import time
from pathlib import Path

from _common import MASK, chunk_stats, dir_bytes, main, random_values, value

pc = time.perf_counter_ns
logging.getLogger("mlflow").setLevel(logging.WARNING)


def _root() -> Path:
    uri = os.environ["MLFLOW_TRACKING_URI"]
    return Path(uri.removeprefix("file://"))


def _run_metric_bytes(run_id: str) -> int:
    total = 0
    for folder in _root().glob(f"*/{run_id}/metrics"):
        total += dir_bytes(folder)[0]
    return total


def version() -> dict:
    import mlflow

    return {"version": mlflow.__version__}


def log_metric(n: int, chunk: int) -> dict:
    """``mlflow.log_metric("loss", x, step=i)`` n times, timed in chunks."""
    import mlflow

    mlflow.set_experiment("bench-log")
    run = mlflow.start_run()
    vals, mask = random_values(), MASK
    chunks = []
    for start in range(0, n, chunk):
        t0 = pc()
        for i in range(start, start + chunk):
            mlflow.log_metric("loss", vals[i & mask], step=i)
        chunks.append(pc() - t0)
    mlflow.end_run()
    return {
        "calls": n,
        "log": chunk_stats(chunks, chunk),
        "disk_bytes_per_point": _run_metric_bytes(run.info.run_id) / n,
    }


def log_metrics(steps: int, keys: int, chunk: int) -> dict:
    """``mlflow.log_metrics(d, step=i)`` with ``keys`` metrics per call."""
    import mlflow

    names = [f"metric_{j:02d}" for j in range(keys)]
    d = {k: value(j) for j, k in enumerate(names)}
    mlflow.set_experiment("bench-wide")
    mlflow.start_run()
    chunks = []
    for start in range(0, steps, chunk):
        t0 = pc()
        for i in range(start, start + chunk):
            mlflow.log_metrics(d, step=i)
        chunks.append(pc() - t0)
    mlflow.end_run()
    return {
        "steps": steps,
        "keys": keys,
        "per_call": chunk_stats(chunks, chunk),
        "per_point": chunk_stats(chunks, chunk * keys),
    }


def run_start(n: int) -> dict:
    """Start and end ``n`` empty runs."""
    import mlflow

    mlflow.set_experiment("bench-empty")
    with mlflow.start_run():
        pass
    each = []
    for _ in range(n):
        t0 = pc()
        with mlflow.start_run():
            pass
        each.append(pc() - t0)
    return {
        "runs": n,
        "median_ms": statistics.median(each) / 1e6,
        "mean_ms": sum(each) / n / 1e6,
    }


def build_runs(n: int) -> dict:
    """``n`` runs with params, tags and one logged step, as ``_nbtrack_work.build_runs``."""
    import mlflow

    exp_ids = [mlflow.create_experiment(f"exp-{k}") for k in range(10)]
    t0 = pc()
    for i in range(n):
        with mlflow.start_run(
            experiment_id=exp_ids[i % 10], tags={"bench": "1", f"group-{i % 3}": "1"}
        ):
            mlflow.log_params({"lr": 10 ** -(1 + i % 4), "batch_size": 2 ** (4 + i % 4),
                               "opt.name": ("adam", "sgd")[i % 2]})
            mlflow.log_metrics({"loss": value(i), "acc": value(i + 1)}, step=0)
    total = pc() - t0
    return {"runs": n, "total_s": total / 1e9, "mean_ms_per_run": total / n / 1e6}


def _search_all():
    """Every run as one result: ``mlflow.search_runs`` (pandas) where pandas is
    installed, else ``MlflowClient.search_runs`` in one page (the file store re-reads
    every run for each page, so paging would be unfair to it)."""
    import mlflow
    from mlflow.tracking import MlflowClient

    try:
        import pandas  # noqa: F401

        def search():
            return len(mlflow.search_runs(search_all_experiments=True))

        how = "mlflow.search_runs (pandas)"
    except ImportError:
        client = MlflowClient()
        exp_ids = [e.experiment_id for e in client.search_experiments()]

        def search():
            return len(client.search_runs(exp_ids, max_results=50_000))

        how = "MlflowClient.search_runs (pandas not installed)"
    return search, how


def query_runs(reps: int) -> dict:
    search, how = _search_all()
    t0 = pc()
    rows = search()
    cold = (pc() - t0) / 1e9
    warm = []
    for _ in range(reps):
        t0 = pc()
        search()
        warm.append((pc() - t0) / 1e9)
    return {"how": how, "rows": rows, "cold_s": cold, "warm_median_s": statistics.median(warm),
            "reps": reps}


KEYS = ("loss", "acc", "lr")


def build_history(runs: int, steps: int) -> dict:
    """``runs`` runs of ``steps`` steps of three metrics, written with ``log_batch``
    (1,000 metrics a call, MLflow's limit) to keep the set-up short."""
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    exp = client.create_experiment("bench-history")
    t0 = pc()
    now = int(time.time() * 1000)
    for r in range(runs):
        run = client.create_run(exp)
        points = [
            Metric(k, value(3 * (s + steps * r) + j), now, s)
            for s in range(steps) for j, k in enumerate(KEYS)
        ]
        for j in range(0, len(points), 1000):
            client.log_batch(run.info.run_id, metrics=points[j:j + 1000])
        client.set_terminated(run.info.run_id)
    total = pc() - t0
    points = runs * steps * len(KEYS)
    disk = sum(dir_bytes(folder)[0] for folder in _root().glob(f"{exp}/*/metrics"))
    return {"runs": runs, "steps": steps, "points": points, "total_s": total / 1e9,
            "disk_bytes_per_point": disk / points}


def query_history(reps: int) -> dict:
    """``get_metric_history`` for every run and key; ns per point returned."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    exp = client.get_experiment_by_name("bench-history")
    run_ids = [r.info.run_id for r in client.search_runs([exp.experiment_id], max_results=50_000)]

    def read_all() -> int:
        return sum(len(client.get_metric_history(rid, k)) for rid in run_ids for k in KEYS)

    t0 = pc()
    points = read_all()
    cold = (pc() - t0) / 1e9
    warm = []
    for _ in range(reps):
        t0 = pc()
        read_all()
        warm.append((pc() - t0) / 1e9)
    med = statistics.median(warm)
    return {"runs": len(run_ids), "points": points, "cold_s": cold, "warm_median_s": med,
            "ns_per_point": med * 1e9 / points, "reps": reps}


TASKS = {
    "version": version,
    "log_metric": log_metric,
    "log_metrics": log_metrics,
    "run_start": run_start,
    "build_runs": build_runs,
    "query_runs": query_runs,
    "build_history": build_history,
    "query_history": query_history,
}

if __name__ == "__main__":
    main(TASKS)
