"""Core benchmark of nbtrack: logging, memory, queries, import time, and MLflow.

    .venv/bin/python benchmarks/bench_core.py            # full run (several minutes)
    .venv/bin/python benchmarks/bench_core.py --quick    # smoke run (under a minute)
    .venv/bin/python benchmarks/bench_core.py --only log,metrics

Every figure is measured in a fresh worker process against a fresh temporary
store, next to a baseline measured in the same run (a plain list append, a bare
polars scan, MLflow's file store), and printed as a ratio. Nothing is asserted:
the targets of issue 2 are printed beside the figures, and the exit status is
non-zero only when a measurement itself failed. Results also go to
``benchmarks/results/core.json``. See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PY = sys.executable
SECTIONS = ("import", "log", "wide", "memory", "start", "runs", "metrics", "mlflow")
HEAVY = ("polars", "pyarrow", "altair", "anywidget", "nbformat", "nbclient", "IPython",
         "numpy", "pandas")
MUST_BE_LAZY = ("polars", "pyarrow", "altair", "anywidget", "nbformat", "nbclient")

# (full, quick) sizes; quick is 10-100x smaller.
SIZES = {
    "import_reps": (7, 3),
    "log_n": (1_000_000, 20_000),
    "log_chunk": (10_000, 1_000),
    "wide_steps": (20_000, 1_000),
    "wide_keys": (50, 50),
    "wide_chunk": (200, 50),
    "memory_n": (10_000_000, 200_000),
    "start_n": (300, 30),
    "runs_n": (10_000, 300),
    "runs_reps": (7, 3),
    "metrics_runs": (1_000, 30),
    "metrics_steps": (1_000, 100),
    "metrics_reps": (5, 3),
    "mlflow_log_n": (20_000, 500),
    "mlflow_log_chunk": (1_000, 100),
    "mlflow_wide_steps": (1_000, 50),
    "mlflow_wide_chunk": (50, 10),
    "mlflow_start_n": (300, 30),
    "mlflow_runs_n": (2_000, 100),  # MLflow's file store takes ~50 ms a run here
    "mlflow_runs_reps": (3, 1),
    "mlflow_history_runs": (200, 5),
    "mlflow_history_reps": (3, 1),
}


class WorkerError(RuntimeError):
    pass


# ------------------------------------------------------------------ plumbing
def worker(script: str, task: str, params: dict, env: dict, cwd: Path,
           timeout: float = 3600) -> dict:
    """Run one task in a fresh process and return its ``RESULT`` dict."""
    proc = subprocess.run(
        [PY, str(HERE / script), task, json.dumps(params)],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout,
    )
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-6:])
    raise WorkerError(f"{script} {task} exited {proc.returncode}:\n{tail}")


def base_env() -> dict:
    """The caller's environment with this checkout first on the path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    )
    env.pop("NBTRACK_RUN_ID", None)  # never log into a run the caller has open
    return env


def fmt(x: float | None, unit: str = "", digits: int = 3) -> str:
    if x is None:
        return "-"
    if abs(x) >= 100 or x == int(x) and abs(x) >= 10:
        text = f"{x:,.0f}"
    else:
        text = f"{x:.{digits}g}"
    return f"{text} {unit}".strip()


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


class Table:
    """Rows of figure | value | baseline | ratio | target, printed as they come."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, ...]] = []
        self.targets: list[dict] = []

    def add(self, figure: str, value: str, baseline: str = "", ratio_: float | None = None,
            target: str = "", met: bool | None = None) -> None:
        verdict = "" if met is None else ("  met" if met else "  MISSED")
        r = "" if ratio_ is None else (f"{ratio_:.2f}x" if ratio_ >= 0.1 else f"{ratio_:.2g}x")
        self.rows.append((figure, value, baseline, r, target + verdict))
        if met is not None:
            self.targets.append({"figure": figure, "value": value, "target": target, "met": met})
        print(f"  {figure:<46} {value:>16}  {baseline:<40} {r:>8}  {target}{verdict}", flush=True)

    def note(self, text: str) -> None:
        self.rows.append((text,))
        print(f"  {text}", flush=True)


def header(title: str) -> None:
    print(f"\n== {title}", flush=True)


# ------------------------------------------------------------------ sections
def bench_import(s, env, tmp, table) -> dict:
    """``-X importtime`` of ``import nbtrack``, wall time vs ``python -c pass``, and which
    heavy modules the import pulled in. The caller's PYTHONPATH is dropped here so a
    sitecustomize on it cannot skew the figure."""
    env = dict(env, PYTHONPATH=str(REPO))
    reps = s["import_reps"]

    def cumulative_us(module: str) -> float:
        proc = subprocess.run([PY, "-X", "importtime", "-c", f"import {module}"], env=env,
                              cwd=tmp, capture_output=True, text=True, check=True)
        for line in proc.stderr.splitlines():
            parts = line.split("|")
            if len(parts) == 3 and parts[2].rstrip() == f" {module}":
                return float(parts[1])
        raise WorkerError(f"no top-level {module} line in -X importtime output")

    def wall_ms(code: str) -> float:
        t0 = time.perf_counter()
        subprocess.run([PY, "-c", code], env=env, cwd=tmp, check=True)
        return (time.perf_counter() - t0) * 1000

    cumulative_us("nbtrack")  # compile the .pyc files first
    nb_us = statistics.median(cumulative_us("nbtrack") for _ in range(reps))
    wall_nb, wall_pass = [], []
    for _ in range(reps):
        wall_pass.append(wall_ms("pass"))
        wall_nb.append(wall_ms("import nbtrack"))
    probe = subprocess.run(
        [PY, "-c", "import json, sys, nbtrack; print(json.dumps(sorted({m.split('.')[0] "
         "for m in sys.modules})))"],
        env=env, cwd=tmp, capture_output=True, text=True, check=True,
    )
    loaded = set(json.loads(probe.stdout))
    heavy = sorted(m for m in HEAVY if m in loaded)
    bad = sorted(m for m in MUST_BE_LAZY if m in loaded)
    mlflow_us = None
    try:
        mlflow_us = statistics.median(cumulative_us("mlflow") for _ in range(max(1, reps // 2)))
    except (subprocess.CalledProcessError, WorkerError):
        pass
    out = {
        "nbtrack_importtime_ms": nb_us / 1000,
        "wall_import_nbtrack_ms": statistics.median(wall_nb),
        "wall_python_pass_ms": statistics.median(wall_pass),
        "heavy_modules_imported": heavy,
        "must_be_lazy_but_imported": bad,
        "mlflow_importtime_ms": None if mlflow_us is None else mlflow_us / 1000,
    }
    table.add("import nbtrack (-X importtime cumulative)", fmt(nb_us / 1000, "ms"),
              f"mlflow: {fmt(out['mlflow_importtime_ms'], 'ms')}",
              ratio(nb_us / 1000, out["mlflow_importtime_ms"]), "<= 100 ms", nb_us <= 100_000)
    table.add("python -c 'import nbtrack' wall", fmt(out["wall_import_nbtrack_ms"], "ms"),
              f"python -c pass: {fmt(out['wall_python_pass_ms'], 'ms')}",
              ratio(out["wall_import_nbtrack_ms"], out["wall_python_pass_ms"]))
    table.add("heavy modules imported by import nbtrack", ", ".join(heavy) or "none", "",
              None, "none of " + "/".join(MUST_BE_LAZY), not bad)
    return out


def bench_log(s, env, tmp, table) -> dict:
    env = dict(env, NBTRACK_HOME=str(tmp / "store"))
    r = worker("_nbtrack_work.py", "log_loop", {"n": s["log_n"], "chunk": s["log_chunk"]},
               env, tmp)
    log, floor = r["log"], r["floor"]
    n = r["calls"]
    table.add(f"run.log 1 key x {n:,}: median ns/call", fmt(log["median_ns"], "ns"),
              f"list.append floor: {fmt(floor['median_ns'], 'ns')}",
              ratio(log["median_ns"], floor["median_ns"]), "<= 1000 ns",
              log["median_ns"] <= 1000)
    table.add(f"  p90 of {log['chunks']} chunks of {log['calls_per_chunk']:,}",
              fmt(log["p90_ns"], "ns"), f"floor p90: {fmt(floor['p90_ns'], 'ns')}",
              ratio(log["p90_ns"], floor["p90_ns"]))
    table.add("  worst chunk", fmt(log["max_ns"], "ns/call"),
              f"floor worst: {fmt(floor['max_ns'], 'ns')}")
    table.add("  mean over the loop", fmt(log["mean_ns"], "ns"),
              f"floor mean: {fmt(floor['mean_ns'], 'ns')}", ratio(log["mean_ns"], floor["mean_ns"]))
    table.add("  mean including run.end()", fmt(r["mean_incl_end_ns"], "ns"))
    table.add("  run.end() (final flush + compaction)", fmt(r["end_s"], "s"),
              f"{r['flush_files_before_end']} flush files before end")
    table.add("  on disk after end", fmt(r["disk_bytes_per_point"], "B/point"),
              f"{r['files_after_end']} file(s)", None, "<= 12 B/point",
              r["disk_bytes_per_point"] <= 12)
    return r


def bench_wide(s, env, tmp, table) -> dict:
    env = dict(env, NBTRACK_HOME=str(tmp / "store"))
    r = worker("_nbtrack_work.py", "log_wide",
               {"steps": s["wide_steps"], "keys": s["wide_keys"], "chunk": s["wide_chunk"]},
               env, tmp)
    pp, pc_, fl = r["per_point"], r["per_call"], r["floor_per_point"]
    table.add(f"run.log {r['keys']} keys x {r['steps']:,} steps: ns/point",
              fmt(pp["median_ns"], "ns"), f"append floor/point: {fmt(fl['median_ns'], 'ns')}",
              ratio(pp["median_ns"], fl["median_ns"]))
    table.add("  median ns/call", fmt(pc_["median_ns"], "ns"), f"p90 {fmt(pc_['p90_ns'], 'ns')}")
    table.add("  mean ns/point incl. run.end()", fmt(r["mean_incl_end_ns_per_point"], "ns"),
              f"end() {fmt(r['end_s'], 's')}")
    table.add("  on disk after end", fmt(r["disk_bytes_per_point"], "B/point"),
              f"{r['files_after_end']} file(s)", None, "<= 12 B/point",
              r["disk_bytes_per_point"] <= 12)
    return r


def bench_memory(s, env, tmp, table) -> dict:
    n = s["memory_n"]
    r = worker("_nbtrack_work.py", "memory", {"n": n},
               dict(env, NBTRACK_HOME=str(tmp / "store")), tmp)
    how = "VmHWM reset at baseline" if r["peak_reset"] else "VmHWM (could not reset)"
    table.add(f"peak RSS growth, {n:,} points, incl. end()",
              fmt(r["peak_growth_incl_end_mb"], "MB"),
              f"base {fmt(r['rss_baseline_mb'], 'MB')}, {how}", None, "< 100 MB",
              r["peak_growth_incl_end_mb"] < 100)
    table.add("  peak growth while logging (before end)", fmt(r["peak_growth_logging_mb"], "MB"),
              f"RSS after logging +{fmt(r['rss_growth_after_logging_mb'], 'MB')}")
    table.add("  peak growth counted from after import", fmt(r["peak_growth_from_import_mb"], "MB"),
              "includes loading pyarrow")
    table.add("  on disk after end", fmt(r["disk_bytes_per_point"], "B/point"),
              f"{r['disk_files']} file(s), {fmt(r['disk_bytes'] / 1e6, 'MB')}", None,
              "<= 12 B/point", r["disk_bytes_per_point"] <= 12)
    table.add("  mean log ns/call over the run", fmt(r["log_mean_ns"], "ns"),
              f"end() {fmt(r['end_s'], 's')}")
    # end() may import polars (run summary); tell that apart from the data's cost
    pre = worker("_nbtrack_work.py", "memory", {"n": n, "preload_polars": True},
                 dict(env, NBTRACK_HOME=str(tmp / "store-pre")), tmp)
    pol = worker("_nbtrack_work.py", "import_rss", {"module": "polars"}, env, tmp)
    table.add("  same, polars imported before the baseline",
              fmt(pre["peak_growth_incl_end_mb"], "MB"),
              f"while logging {fmt(pre['peak_growth_logging_mb'], 'MB')}; "
              f"import polars alone +{fmt(pol['rss_mb'], 'MB')}")
    return {"default": r, "polars_preloaded": pre, "import_polars_rss_mb": pol["rss_mb"]}


def bench_start(s, env, tmp, table) -> dict:
    env = dict(env, NBTRACK_HOME=str(tmp / "store"))
    r = worker("_nbtrack_work.py", "run_start", {"n": s["start_n"]}, env, tmp)
    table.add(f"empty run start+end ({r['runs']} runs)", fmt(r["median_ms"], "ms"),
              f"mean {fmt(r['mean_ms'], 'ms')}, p90 {fmt(r['p90_ms'], 'ms')}", None,
              "a few ms")
    return r


def bench_runs(s, env, tmp, table) -> dict:
    env = dict(env, NBTRACK_HOME=str(tmp / "store"))
    b = worker("_nbtrack_work.py", "build_runs",
               {"n": s["runs_n"], "probe_at": s["mlflow_runs_n"]}, env, tmp)
    table.add(f"create {b['runs']:,} runs (params, tags, 1 step)",
              fmt(b["mean_ms_per_run"], "ms/run"),
              f"total {fmt(b['total_s'], 's')}; first/last tenth "
              f"{fmt(b['first_block_ms_per_run'])}/{fmt(b['last_block_ms_per_run'])} ms")
    q = worker("_nbtrack_work.py", "query_runs", {"reps": s["runs_reps"]}, env, tmp)
    n = q["rows"]
    table.add(f"runs() over {n:,} runs, warm median", fmt(q["warm_median_s"], "s"),
              f"pl.read_ipc(index): {fmt(q['baseline_read_ipc_s'], 's')}",
              ratio(q["warm_median_s"], q["baseline_read_ipc_s"]), "<= 0.3 s",
              q["warm_median_s"] <= 0.3)
    table.add("  vs pl.DataFrame(same rows as dicts)", "",
              f"pl.DataFrame(dicts): {fmt(q['baseline_from_dicts_s'], 's')}",
              ratio(q["warm_median_s"], q["baseline_from_dicts_s"]))
    if b.get("probe"):
        table.add(f"  runs() over the first {b['probe']['runs']:,} runs, warm",
                  fmt(b["probe"]["warm_median_s"], "s"), "timed while creating them")
    table.add("  runs() cold (first call, imports polars)", fmt(q["cold_s"], "s"),
              f"{q['columns']} columns; index {q['index_arrow_files']} arrow + "
              f"{q['index_json_files']} json files")
    return {"build": b, "query": q}


def bench_metrics(s, env, tmp, table) -> dict:
    env = dict(env, NBTRACK_HOME=str(tmp / "store"))
    b = worker("_nbtrack_work.py", "build_metrics",
               {"runs": s["metrics_runs"], "steps": s["metrics_steps"]}, env, tmp)
    table.add(f"create {b['runs']:,} runs x {b['steps']:,} steps x 3 keys",
              fmt(b["mean_ms_per_run"], "ms/run"),
              f"total {fmt(b['total_s'], 's')}, {b['metric_files']} files, "
              f"{fmt(b['disk_bytes_per_point'])} B/point")
    q = worker("_nbtrack_work.py", "query_metrics", {"reps": s["metrics_reps"]}, env, tmp)
    label = f"metrics(ids) {q['runs']:,} runs, {q['rows']:,} rows"
    table.add(label, fmt(q["metrics_ids_median_s"], "s"),
              f"bare pl.scan_ipc(files): {fmt(q['bare_scan_median_s'], 's')}",
              q["ratio_ids_to_bare"], "<= 0.5 s, <= 1.5x",
              q["metrics_ids_median_s"] <= 0.5 and q["ratio_ids_to_bare"] <= 1.5)
    table.add("  metrics() (all runs, lists runs() first)", fmt(q["metrics_all_median_s"], "s"),
              "", q["ratio_all_to_bare"])
    table.add("  metrics(ids, keys=['loss'])", fmt(q["metrics_one_key_median_s"], "s"), "",
              ratio(q["metrics_one_key_median_s"], q["bare_scan_median_s"]))
    table.add("  metrics(ids) cold (first call)", fmt(q["cold_s"], "s"),
              f"{q['files']} files; bare scan rows {q['bare_rows']:,}")
    return {"build": b, "query": q}


def bench_mlflow(s, env, tmp, table, results) -> dict:
    """The same work through MLflow's file store; ratios are nbtrack / MLflow."""
    base = dict(env, MLFLOW_ALLOW_FILE_STORE="true")

    def store(name: str) -> dict:
        """One file store per kind of work, so a search sees only the runs made for it."""
        return dict(base, MLFLOW_TRACKING_URI=f"file://{tmp / name / 'mlruns'}")

    try:
        ver = worker("_mlflow_work.py", "version", {}, store("version"), tmp)["version"]
    except WorkerError as exc:
        table.note("SKIPPED: MLflow is not importable (pip install -e '.[bench]'): "
                   + str(exc).splitlines()[-1])
        return {"skipped": str(exc)}
    table.note(f"MLflow {ver}, file stores under {tmp}; ratio = nbtrack / MLflow "
               "(< 1: nbtrack faster or smaller)")
    out: dict = {"version": ver}

    def nb(*path):
        node = results
        for p in path:
            if not isinstance(node, dict) or p not in node:
                return None
            node = node[p]
        return node

    def part(name, fn):
        try:
            out[name] = fn()
        except (WorkerError, subprocess.TimeoutExpired) as exc:
            out[name] = {"error": str(exc)}
            table.note(f"MLflow {name} FAILED: {exc}")

    part("log_metric", lambda: worker(
        "_mlflow_work.py", "log_metric",
        {"n": s["mlflow_log_n"], "chunk": s["mlflow_log_chunk"]}, store("log"), tmp))
    if "log" in out["log_metric"]:
        m = out["log_metric"]
        table.add(f"mlflow.log_metric x {m['calls']:,}: median ns/call",
                  fmt(m["log"]["median_ns"], "ns"),
                  f"nbtrack run.log: {fmt(nb('log', 'log', 'median_ns'), 'ns')}",
                  ratio(nb("log", "log", "median_ns"), m["log"]["median_ns"]))
        table.add("  on disk", fmt(m["disk_bytes_per_point"], "B/point"),
                  f"nbtrack: {fmt(nb('log', 'disk_bytes_per_point'), 'B/point')}",
                  ratio(nb("log", "disk_bytes_per_point"), m["disk_bytes_per_point"]))
    part("log_metrics", lambda: worker(
        "_mlflow_work.py", "log_metrics",
        {"steps": s["mlflow_wide_steps"], "keys": s["wide_keys"], "chunk": s["mlflow_wide_chunk"]},
        store("wide"), tmp))
    if "per_point" in out["log_metrics"]:
        m = out["log_metrics"]
        table.add(f"mlflow.log_metrics {m['keys']} keys x {m['steps']:,}: ns/point",
                  fmt(m["per_point"]["median_ns"], "ns"),
                  f"nbtrack run.log: {fmt(nb('wide', 'per_point', 'median_ns'), 'ns')}",
                  ratio(nb("wide", "per_point", "median_ns"), m["per_point"]["median_ns"]))
    part("run_start", lambda: worker(
        "_mlflow_work.py", "run_start", {"n": s["mlflow_start_n"]}, store("start"), tmp))
    if "median_ms" in out["run_start"]:
        m = out["run_start"]
        table.add(f"mlflow empty run start+end ({m['runs']})", fmt(m["median_ms"], "ms"),
                  f"nbtrack: {fmt(nb('start', 'median_ms'), 'ms')}",
                  ratio(nb("start", "median_ms"), m["median_ms"]))
    part("build_runs", lambda: worker(
        "_mlflow_work.py", "build_runs", {"n": s["mlflow_runs_n"]}, store("runs"), tmp))
    if "mean_ms_per_run" in out["build_runs"]:
        m = out["build_runs"]
        table.add(f"mlflow create {m['runs']:,} runs (params, tags, 1 step)",
                  fmt(m["mean_ms_per_run"], "ms/run"),
                  f"nbtrack: {fmt(nb('runs', 'build', 'mean_ms_per_run'), 'ms/run')}",
                  ratio(nb("runs", "build", "mean_ms_per_run"), m["mean_ms_per_run"]))
        part("query_runs", lambda: worker(
            "_mlflow_work.py", "query_runs", {"reps": s["mlflow_runs_reps"]}, store("runs"), tmp))
        if "warm_median_s" in out["query_runs"]:
            m = out["query_runs"]
            nb_s = nb("runs", "build", "probe", "warm_median_s")
            if nb("runs", "build", "probe", "runs") != m["rows"]:
                nb_s = None
            table.add(f"mlflow search over {m['rows']:,} runs, warm", fmt(m["warm_median_s"], "s"),
                      f"nbtrack runs() over as many: {fmt(nb_s, 's')}",
                      ratio(nb_s, m["warm_median_s"]))
            table.note(f"    ({m['how']}; cold {fmt(m['cold_s'], 's')})")
    part("build_history", lambda: worker(
        "_mlflow_work.py", "build_history",
        {"runs": s["mlflow_history_runs"], "steps": s["metrics_steps"]}, store("history"), tmp))
    if "points" in out["build_history"]:
        part("query_history", lambda: worker(
            "_mlflow_work.py", "query_history", {"reps": s["mlflow_history_reps"]},
            store("history"), tmp))
        if "ns_per_point" in out["query_history"]:
            m = out["query_history"]
            q = nb("metrics", "query") or {}
            nb_ns = (q["metrics_ids_median_s"] * 1e9 / q["rows"]) if q.get("rows") else None
            table.add(f"get_metric_history {m['runs']} runs x 3 keys: ns/point",
                      fmt(m["ns_per_point"], "ns"),
                      f"nbtrack metrics(ids): {fmt(nb_ns, 'ns')}", ratio(nb_ns, m["ns_per_point"]))
            table.add("  mlflow on disk", fmt(out["build_history"]["disk_bytes_per_point"],
                                              "B/point"),
                      f"nbtrack: {fmt(nb('metrics', 'build', 'disk_bytes_per_point'), 'B/point')}",
                      ratio(nb("metrics", "build", "disk_bytes_per_point"),
                            out["build_history"]["disk_bytes_per_point"]))
    return out


RUNNERS = {
    "import": bench_import,
    "log": bench_log,
    "wide": bench_wide,
    "memory": bench_memory,
    "start": bench_start,
    "runs": bench_runs,
    "metrics": bench_metrics,
}
TITLES = {
    "import": "5. import time",
    "log": "1a. run.log, one key per call",
    "wide": "1b. run.log, many keys per call",
    "memory": "2. memory and disk, one big run (subprocess)",
    "start": "3a. run start + end",
    "runs": "3b. runs() over many runs",
    "metrics": "4. metrics() over many runs",
    "mlflow": "6. the same work through MLflow's file store",
}


def meta(quick: bool) -> dict:
    def ver(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                                capture_output=True, text=True).stdout.strip() or None
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "nbtrack"], cwd=REPO,
                                    capture_output=True, text=True).stdout.strip())
    except OSError:
        commit, dirty = None, None
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "quick": quick,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "git_commit": commit,
        "nbtrack_dirty": dirty,
        "versions": {p: ver(p) for p in ("nbtrack", "polars", "pyarrow", "mlflow-skinny",
                                          "mlflow")},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10-100x smaller, for a smoke run")
    parser.add_argument("--only", default="", help=f"comma list of: {', '.join(SECTIONS)}")
    parser.add_argument("--json", default=str(HERE / "results" / "core.json"),
                        help="where to write the results (default: %(default)s)")
    parser.add_argument("--tmp", default=None, help="folder for the temporary stores")
    parser.add_argument("--keep", action="store_true", help="keep the temporary stores")
    args = parser.parse_args(argv)

    chosen = [x.strip() for x in args.only.split(",") if x.strip()] or list(SECTIONS)
    unknown = set(chosen) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s) {sorted(unknown)}; choose from {', '.join(SECTIONS)}")
    sizes = {k: v[1 if args.quick else 0] for k, v in SIZES.items()}
    env = base_env()
    root = Path(tempfile.mkdtemp(prefix="nbtrack-bench-", dir=args.tmp))
    info = meta(args.quick)
    mode = "quick" if args.quick else "full"
    print(f"nbtrack core benchmark ({mode}) - python {info['python']}, "
          f"polars {info['versions']['polars']}, pyarrow {info['versions']['pyarrow']}, "
          f"{info['cpus']} cpus; git {info['git_commit']}"
          f"{' + local changes' if info['nbtrack_dirty'] else ''}; stores under {root}")
    print("ratio = figure / baseline on the same line (measured in this run); "
          "targets are from issue 2 and are not asserted")
    results: dict = {}
    table = Table()
    errors: list[str] = []
    started = time.perf_counter()
    for name in SECTIONS:
        if name not in chosen:
            continue
        header(TITLES[name])
        tmp = root / name
        tmp.mkdir()
        t0 = time.perf_counter()
        try:
            if name == "mlflow":
                results[name] = bench_mlflow(sizes, env, tmp, table, results)
            else:
                results[name] = RUNNERS[name](sizes, env, tmp, table)
        except (WorkerError, subprocess.SubprocessError, OSError, KeyError) as exc:
            results[name] = {"error": f"{type(exc).__name__}: {exc}"}
            errors.append(name)
            table.note(f"FAILED: {type(exc).__name__}: {exc}")
        table.note(f"({time.perf_counter() - t0:.0f} s)")
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)

    total = time.perf_counter() - started
    missed = [t for t in table.targets if not t["met"]]
    print(f"\n{len(table.targets) - len(missed)}/{len(table.targets)} targets met"
          + (": missed " + "; ".join(f"{t['figure'].strip()} = {t['value']} (target {t['target']})"
                                     for t in missed) if missed else "")
          + f". Total {total:.0f} s.")
    if errors:
        print(f"failed sections: {', '.join(errors)}")
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": dict(info, sizes=sizes, total_s=total),
                               "results": results, "targets": table.targets,
                               "failed_sections": errors}, indent=2))
    print(f"results written to {out}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
