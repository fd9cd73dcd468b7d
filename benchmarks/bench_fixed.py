"""Fixed costs (issue 15): what the first call costs against the hundredth.

    .venv/bin/python benchmarks/bench_fixed.py            # full run (a few minutes)
    .venv/bin/python benchmarks/bench_fixed.py --quick    # smoke run
    .venv/bin/python benchmarks/bench_fixed.py --only git,keys

Each figure is measured in fresh worker processes next to a baseline from the same
run and printed as a ratio; the targets of issue 15 are printed beside them, never
asserted. Every worker also says whether pandas, pyarrow and polars were in
``sys.modules`` afterwards (pandas never should be: install it, e.g. with
``PYTHONPATH`` pointing at a folder holding it, to make that line mean something).
Results go to ``benchmarks/results/fixed.json``. See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_core import REPO, Table, WorkerError, base_env, fmt, header, meta, ratio
from bench_core import worker as run_worker

HERE = Path(__file__).resolve().parent
PY = sys.executable
SECTIONS = ("cold", "end", "git", "keys", "load")
TITLES = {
    "cold": "cold metrics() in a fresh process (polars imported) against warm",
    "end": "start_run and end() of a 1 s run: the first of a process against later ones",
    "git": "empty run start+end inside a git work tree against outside any",
    "keys": "metrics(ids, keys=[one of three]) against all keys",
    "load": "run.log against its bare-loop floor, without and with CPU-bound competitors",
}
SIZES = {  # (full, quick)
    "runs": (300, 20), "steps": (1_000, 100), "cold_procs": (3, 1), "warm_reps": (5, 3),
    "end_runs": (3, 2), "end_seconds": (1.0, 0.3), "end_procs": (2, 1),
    "git_n": (50, 10), "git_blocks": (6, 2), "keys_reps": (7, 3),
    "long_runs": (10, 3), "long_steps": (100_000, 20_000),
    "load_n": (600_000, 60_000), "load_chunk": (20_000, 5_000), "load_pairs": (3, 1),
}


def worker(task: str, params: dict, env: dict, cwd: Path, timeout: float = 1800) -> dict:
    return run_worker("_fixed_work.py", task, params, env, cwd, timeout)


def pandas_line(table: Table, results: list[dict], key: str = "loaded_after") -> None:
    seen = [r[key] for r in results if r.get(key)]
    pandas = any(x.get("pandas") for x in seen)
    pyarrow = sum(bool(x.get("pyarrow")) for x in seen)
    table.add("  pandas in sys.modules after", "yes" if pandas else "no",
              f"pyarrow in {pyarrow} of {len(seen)} processes", None, "never", not pandas)


def rng(xs: list[float], unit: str = "", scale: float = 1.0) -> str:
    return f"{fmt(min(xs) * scale)}-{fmt(max(xs) * scale, unit)}" if len(xs) > 1 else ""


# ------------------------------------------------------------------ sections
def bench_cold(s, env, tmp, table, store) -> dict:
    out = {}
    for which in ("ids", "all"):
        rs = [worker("metrics_cold", {"which": which, "reps": s["warm_reps"]}, env, tmp)
              for _ in range(s["cold_procs"])]
        ratios = [r["cold_s"] / r["warm_median_s"] for r in rs]
        label = "metrics(ids)" if which == "ids" else "metrics() (all runs)"
        cold = statistics.median(r["cold_s"] for r in rs)
        warm = statistics.median(r["warm_median_s"] for r in rs)
        table.add(f"{label} cold, {store['runs']} runs", fmt(cold, "s"),
                  f"warm {fmt(warm, 's')}; ratios {rng(ratios)}",
                  statistics.median(ratios), "<= 3x warm", statistics.median(ratios) <= 3)
        pandas_line(table, rs)
        out[which] = rs
    return out


def bench_end(s, env, tmp, table, store) -> dict:
    rs = [worker("first_end", {"seconds": s["end_seconds"], "runs": s["end_runs"]}, env, tmp)
          for _ in range(s["end_procs"])]
    first = [r["end_s"][0] for r in rs]
    later = [x for r in rs for x in r["end_s"][1:]]
    table.add(f"first run.end() of a {s['end_seconds']:g} s run", fmt(statistics.median(first),
              "s"), f"later end(): {fmt(statistics.median(later), 's')} {rng(later, 's')}",
              ratio(statistics.median(first), statistics.median(later)))
    fs = [r["start_s"][0] for r in rs]
    ls = [x for r in rs for x in r["start_s"][1:]]
    table.add("first start_run() of a process", fmt(statistics.median(fs), "s"),
              f"later start_run(): {fmt(statistics.median(ls), 's')}",
              ratio(statistics.median(fs), statistics.median(ls)))
    hs = [worker("hot_start", {"seconds": 0.5}, env, tmp) for _ in range(s["end_procs"])]
    first_rate = statistics.median(r["first_calls_per_s"] for r in hs)
    next_rate = statistics.median(r["next_calls_per_s"] for r in hs)
    table.add("hot loop's first 0.5 s after start_run", fmt(1e9 / first_rate, "ns/call"),
              f"next 0.5 s: {fmt(1e9 / next_rate, 'ns/call')}", ratio(next_rate, first_rate))
    table.note(f"  points per run: {rs[0]['points']}")
    pandas_line(table, rs, "loaded_after_first")
    return {"procs": rs}


def _git_tree(tmp: Path) -> tuple[Path, int]:
    """A work tree like a project's: a copy of this checkout's sources, committed."""
    repo = tmp / "repo"
    skip = shutil.ignore_patterns("__pycache__", "results", "output", "*.pyc", ".*")
    for part in ("nbtrack", "tests", "benchmarks", "docs"):
        if (REPO / part).is_dir():
            shutil.copytree(REPO / part, repo / part, ignore=skip)
    genv = dict(os.environ, GIT_AUTHOR_NAME="b", GIT_AUTHOR_EMAIL="b@example.com",
                GIT_COMMITTER_NAME="b", GIT_COMMITTER_EMAIL="b@example.com")
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "bench"]):
        subprocess.run(["git", "-C", str(repo), *args], check=True, env=genv,
                       capture_output=True)
    files = subprocess.run(["git", "-C", str(repo), "ls-files"], capture_output=True,
                           text=True, check=True).stdout.count("\n")
    return repo, files


def bench_git(s, env, tmp, table, store) -> dict:
    try:
        repo, files = _git_tree(tmp)
    except (OSError, subprocess.CalledProcessError) as exc:
        table.note(f"SKIPPED: could not make a git work tree ({exc})")
        return {"skipped": str(exc)}
    outside = tmp / "plain"
    outside.mkdir()
    time.sleep(2.1)  # a tree last edited more than git_cache.RACY_S ago, like a real one
    env = dict(env, NBTRACK_HOME=str(tmp / "git-store"))
    r = worker("empty_runs", {"inside": str(repo / "nbtrack"), "outside": str(outside),
                              "n": s["git_n"], "blocks": s["git_blocks"]}, env, tmp)
    rr = ratio(r["inside_median_ms"], r["outside_median_ms"])
    table.add(f"empty run in a git tree ({files} files)", fmt(r["inside_median_ms"], "ms"),
              f"outside: {fmt(r['outside_median_ms'], 'ms')} (p90 {fmt(r['inside_p90_ms'])}"
              f" / {fmt(r['outside_p90_ms'])} ms)", rr, "<= 1.5x", rr is not None and rr <= 1.5)
    table.note(f"  {r['runs_each']} runs each, in alternating blocks; git recorded: "
               f"{r['git_recorded']}")
    pandas_line(table, [r])
    return r


def bench_keys(s, env, tmp, table, store) -> dict:
    """Many short runs (the shared store: per-file costs dominate, so fewer keys save little)
    and a few long ones (merged at their end with each key's rows together: one key of three
    decodes a third)."""
    r = worker("metrics_keys", {"reps": s["keys_reps"]}, env, tmp)
    rr = ratio(r["one_median_s"], r["all_median_s"])
    table.add(f"{store['runs']} short runs: metrics(ids, keys=['loss']), {r['rows_one']:,} rows",
              fmt(r["one_median_s"], "s"), f"all 3 keys: {fmt(r['all_median_s'], 's')}",
              rr, "", None)
    long_env = dict(env, NBTRACK_HOME=str(tmp / "long-store"))
    built = worker("build", {"runs": s["long_runs"], "steps": s["long_steps"]}, long_env, tmp)
    lr = worker("metrics_keys", {"reps": s["keys_reps"]}, long_env, tmp)
    lrr = ratio(lr["one_median_s"], lr["all_median_s"])
    table.add(f"{built['runs']} runs of {s['long_steps']:,} steps: keys=['loss'], {lr['rows_one']:,} rows",
              fmt(lr["one_median_s"], "s"), f"all 3 keys: {fmt(lr['all_median_s'], 's')}",
              lrr, "<= 0.6x", lrr is not None and lrr <= 0.6)
    pandas_line(table, [r, lr])
    return {"short": r, "long": lr}


def bench_load(s, env, tmp, table, store) -> dict:
    n_comp = os.cpu_count() or 2
    params = {"n": s["load_n"], "chunk": s["load_chunk"]}
    light, loaded = [], []
    for _ in range(s["load_pairs"]):
        light.append(worker("log_vs_floor", params, env, tmp))
        burners = [subprocess.Popen([PY, str(HERE / "_fixed_work.py"), "burn",
                                     json.dumps({"seconds": 600})], env=env, cwd=tmp,
                                    stdout=subprocess.DEVNULL) for _ in range(n_comp)]
        try:
            time.sleep(0.5)
            loaded.append(worker("log_vs_floor", params, env, tmp))
        finally:
            for p in burners:
                p.kill()
                p.wait()
    def row(label: str, rs: list[dict], against: float | None = None) -> float:
        med = statistics.median(r["ratio"] for r in rs)
        mean = statistics.median(r["mean_ratio"] for r in rs)
        table.add(label, f"{med:.2f}x",
                  f"log {fmt(statistics.median(r['log_ns'] for r in rs), 'ns')}, floor "
                  f"{fmt(statistics.median(r['floor_ns'] for r in rs), 'ns')}; ratios "
                  f"{rng([r['ratio'] for r in rs])}; mean over loop {mean:.2f}x",
                  None if against is None else med / against,
                  "" if against is None else "<= 1.5x light",
                  None if against is None else med / against <= 1.5)
        return med

    lr = row("run.log / floor (chunk medians), light load", light)
    row(f"run.log / floor, {n_comp} CPU-bound competitors", loaded, lr)
    averages = ", ".join(f"{r['loadavg']:.1f}" for r in light + loaded)
    table.note(f"  load average (1 min) at the end of each run, light then loaded: {averages}")
    pandas_line(table, light + loaded)
    return {"light": light, "loaded": loaded, "competitors": n_comp}


RUNNERS = {"cold": bench_cold, "end": bench_end, "git": bench_git, "keys": bench_keys,
           "load": bench_load}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller, for a smoke run")
    parser.add_argument("--only", default="", help=f"comma list of: {', '.join(SECTIONS)}")
    parser.add_argument("--json", default=str(HERE / "results" / "fixed.json"))
    parser.add_argument("--tmp", default=None, help="folder for the temporary stores")
    args = parser.parse_args(argv)
    chosen = [x.strip() for x in args.only.split(",") if x.strip()] or list(SECTIONS)
    if set(chosen) - set(SECTIONS):
        parser.error(f"choose sections from {', '.join(SECTIONS)}")
    s = {k: v[1 if args.quick else 0] for k, v in SIZES.items()}
    root = Path(tempfile.mkdtemp(prefix="nbtrack-fixed-", dir=args.tmp))
    env = dict(base_env(), NBTRACK_HOME=str(root / "store"))
    info = meta(args.quick)
    probe = subprocess.run([PY, "-c", "import importlib.util as u; print(bool(u.find_spec("
                            "'pandas')))"], env=env, capture_output=True, text=True)
    info["pandas_installed"] = probe.stdout.strip() == "True"
    print(f"nbtrack fixed costs ({'quick' if args.quick else 'full'}) - python {info['python']}"
          f", polars {info['versions']['polars']}, pyarrow {info['versions']['pyarrow']}, "
          f"{info['cpus']} cpus, load average {os.getloadavg()[0]:.1f}; pandas installed: "
          f"{info['pandas_installed']}; git {info['git_commit']}"
          f"{' + local changes' if info['nbtrack_dirty'] else ''}")
    table, results, errors = Table(), {}, []
    store = None
    try:
        if {"cold", "keys"} & set(chosen):
            t0 = time.perf_counter()
            store = worker("build", {"runs": s["runs"], "steps": s["steps"]}, env, root)
            print(f"(store: {store['runs']} runs x {s['steps']} steps x 3 keys, "
                  f"{time.perf_counter() - t0:.0f} s to build)")
        for name in SECTIONS:
            if name not in chosen:
                continue
            header(TITLES[name])
            tmp = root / name
            tmp.mkdir()
            writes = name in ("end", "load")  # their runs go to a store of their own
            here = dict(env, NBTRACK_HOME=str(tmp / "store")) if writes else env
            try:
                results[name] = RUNNERS[name](s, here, tmp, table, store)
            except (WorkerError, subprocess.SubprocessError, OSError, KeyError) as exc:
                results[name] = {"error": f"{type(exc).__name__}: {exc}"}
                errors.append(name)
                table.note(f"FAILED: {type(exc).__name__}: {exc}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    missed = [t for t in table.targets if not t["met"]]
    print(f"\n{len(table.targets) - len(missed)}/{len(table.targets)} targets met"
          + (": missed " + "; ".join(t["figure"].strip() for t in missed) if missed else "")
          + f"; load average now {os.getloadavg()[0]:.1f}")
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": dict(info, sizes=s), "results": results,
                               "targets": table.targets, "failed_sections": errors}, indent=2))
    print(f"results written to {out}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
