"""Workers of ``bench_fixed.py``: one task per fresh process, store at ``$NBTRACK_HOME``.

By hand: ``NBTRACK_HOME=/tmp/s python _fixed_work.py first_end '{"seconds": 1}'``.
Every task prints one ``RESULT {json}`` line, including which of pandas / pyarrow /
polars are in ``sys.modules`` afterwards.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

from _common import MASK, main, random_values, value

pc = time.perf_counter_ns
WATCHED = ("pandas", "pyarrow", "polars")


def _loaded() -> dict:
    return {m: m in sys.modules for m in WATCHED}


def _timed(fn) -> float:
    t0 = pc()
    fn()
    return (pc() - t0) / 1e9


def _run_ids() -> list[str]:
    runs = Path(os.environ["NBTRACK_HOME"]) / "runs"
    return sorted(p.name for p in runs.iterdir() if p.is_dir())


# ------------------------------------------------------------------ stores
def build(runs: int, steps: int) -> dict:
    """``runs`` ended runs of ``steps`` steps x 3 keys (loss, acc, lr)."""
    import nbtrack

    for r in range(runs):
        run = nbtrack.start_run("bench-fixed", params={"seed": r})
        for s in range(steps):
            k = 3 * (s + steps * r)
            run.log({"loss": value(k), "acc": value(k + 1), "lr": value(k + 2)}, step=s)
        run.end()
    return {"runs": runs, "points": runs * steps * 3}


# ------------------------------------------------------------------ metrics()
def metrics_cold(which: str, reps: int) -> dict:
    """The first ``metrics()`` of a process (polars imported before), then warm ones."""
    import polars  # noqa: F401  (a notebook that reads frames has it already)

    import nbtrack

    ids = _run_ids() if which == "ids" else None

    def call():
        return nbtrack.metrics(ids) if ids is not None else nbtrack.metrics()

    before = _loaded()
    cold = _timed(call)
    after_cold = _loaded()
    warm = [_timed(call) for _ in range(reps)]
    return {"which": which, "cold_s": cold, "warm_median_s": statistics.median(warm),
            "warm_min_s": min(warm), "loaded_before": before, "loaded_after": after_cold}


def metrics_keys(reps: int) -> dict:
    """``metrics(ids, keys=[one of three])`` against all keys, warm, interleaved."""
    import nbtrack

    ids = _run_ids()
    nbtrack.metrics(ids)
    nbtrack.metrics(ids, keys=["loss"])
    all_s, one_s = [], []
    for _ in range(reps):
        all_s.append(_timed(lambda: nbtrack.metrics(ids)))
        one_s.append(_timed(lambda: nbtrack.metrics(ids, keys=["loss"])))
    rows_all = nbtrack.metrics(ids).height
    rows_one = nbtrack.metrics(ids, keys=["loss"]).height
    return {"all_median_s": statistics.median(all_s), "one_median_s": statistics.median(one_s),
            "rows_all": rows_all, "rows_one": rows_one, "loaded_after": _loaded()}


# ------------------------------------------------------------------ run.end()
def first_end(seconds: float, runs: int) -> dict:
    """``runs`` runs, each logging 3 keys per step for ``seconds`` (a step every ms, like a
    training loop doing work): start_run and end() timed; the first against the later."""
    import nbtrack

    starts, ends, points = [], [], []
    loaded_after_first = None
    for _ in range(runs):
        t0 = pc()
        run = nbtrack.start_run("bench-first-end")
        starts.append((pc() - t0) / 1e9)
        stop = time.perf_counter() + seconds
        step = 0
        while time.perf_counter() < stop:
            run.log({"loss": value(3 * step), "acc": value(3 * step + 1),
                     "lr": value(3 * step + 2)}, step=step)
            step += 1
            time.sleep(0.001)
        t0 = pc()
        run.end()
        ends.append((pc() - t0) / 1e9)
        points.append(step * 3)
        if loaded_after_first is None:
            loaded_after_first = _loaded()
    return {"start_s": starts, "end_s": ends, "points": points,
            "loaded_after_first": loaded_after_first, "loaded_after": _loaded()}


def hot_start(seconds: float) -> dict:
    """A hot loop started right after start_run: calls per second in its first
    ``seconds`` (the writer's warm-up runs meanwhile) against the next ``seconds``."""
    import nbtrack

    vals, mask = random_values(), MASK
    run = nbtrack.start_run("bench-hot-start")
    counts = []
    i = 0
    for _ in range(2):
        stop = time.perf_counter() + seconds
        start = i
        while time.perf_counter() < stop:
            for j in range(i, i + 1000):
                run.log({"loss": vals[j & mask]}, step=j)
            i += 1000
        counts.append((i - start) / seconds)
    run.end()
    return {"first_calls_per_s": counts[0], "next_calls_per_s": counts[1],
            "loaded_after": _loaded()}


# ------------------------------------------------------------------ git
def empty_runs(inside: str, outside: str, n: int, blocks: int) -> dict:
    """Start+end of empty runs, blocks alternating between a folder inside a git work
    tree and one outside any (the store is elsewhere, ``$NBTRACK_HOME``)."""
    import nbtrack

    for where in (inside, outside):
        os.chdir(where)
        nbtrack.start_run("bench-git-warmup").end()
    try:
        from nbtrack.capture import git_cache

        git_cache.settle()
    except ImportError:  # the code before issue 15 has no cache
        pass
    times: dict[str, list[float]] = {"inside": [], "outside": []}
    last: dict[str, str] = {}
    for _ in range(blocks):
        for name, where in (("inside", inside), ("outside", outside)):
            os.chdir(where)
            for _ in range(n):
                t0 = pc()
                run = nbtrack.start_run("bench-git")
                run.end()
                times[name].append((pc() - t0) / 1e6)
                last[name] = run.id
    git = nbtrack.get_run(last["inside"]).get("git")
    return {
        "inside_median_ms": statistics.median(times["inside"]),
        "outside_median_ms": statistics.median(times["outside"]),
        "inside_p90_ms": sorted(times["inside"])[int(0.9 * (len(times["inside"]) - 1))],
        "outside_p90_ms": sorted(times["outside"])[int(0.9 * (len(times["outside"]) - 1))],
        "runs_each": n * blocks,
        "git_recorded": bool(git),
        "loaded_after": _loaded(),
    }


# ------------------------------------------------------------------ run.log under load
def log_vs_floor(n: int, chunk: int) -> dict:
    """``run.log({"loss": x}, step=i)`` n times against the bare loop appending ``(i, x)``,
    chunk by chunk in turns, so both see the same load, the flusher running meanwhile.

    A floor chunk does ``k`` times as many appends as a log chunk does calls, ``k`` chosen
    so both last about as long: on a shared CPU a chunk longer than the scheduler's slice
    (a few ms) is timed with another process's slice in it, one shorter mostly is not,
    and chunks of 10,000 calls of each (0.5 ms against 5 ms) made the log loop alone look
    twice as slow under load. Figures: median over chunks and the mean over the loop."""
    import nbtrack

    vals, mask = random_values(), MASK
    rows: list = []

    def floor_chunk(start: int, k: int) -> int:
        t0 = pc()
        for j in range(start * k, (start + chunk) * k):
            rows.append((j, vals[j & mask]))
        took = pc() - t0
        rows.clear()
        return took

    run = nbtrack.start_run("bench-load")

    def log_chunk(start: int) -> int:
        t0 = pc()
        for i in range(start, start + chunk):
            run.log({"loss": vals[i & mask]}, step=i)
        return pc() - t0

    k = max(1, round(log_chunk(0) / max(1, floor_chunk(0, 1))))
    floors, logs = [], []
    for start in range(chunk, n, chunk):
        floors.append(floor_chunk(start, k) / (chunk * k))
        logs.append(log_chunk(start) / chunk)
    run.end()
    log_ns, floor_ns = statistics.median(logs), statistics.median(floors)
    return {"log_ns": log_ns, "floor_ns": floor_ns, "ratio": log_ns / floor_ns,
            "mean_ratio": sum(logs) / sum(floors), "floor_chunk_factor": k,
            "loadavg": os.getloadavg()[0], "loaded_after": _loaded()}


def burn(seconds: float) -> dict:
    """A CPU-bound competitor: spin for ``seconds``."""
    stop = time.perf_counter() + seconds
    x = 0
    while time.perf_counter() < stop:
        for i in range(10_000):
            x += i
    return {"spun": seconds}


TASKS = {
    "build": build,
    "metrics_cold": metrics_cold,
    "metrics_keys": metrics_keys,
    "first_end": first_end,
    "hot_start": hot_start,
    "empty_runs": empty_runs,
    "log_vs_floor": log_vs_floor,
    "burn": burn,
}

if __name__ == "__main__":
    main(TASKS)
