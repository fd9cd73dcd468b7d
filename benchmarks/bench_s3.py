"""The store on an S3-compatible bucket against a local folder (issue 14).

    .venv/bin/python benchmarks/bench_s3.py            # 100 runs x 1,000 steps (a few minutes)
    .venv/bin/python benchmarks/bench_s3.py --quick    # smoke run

The same work, in fresh worker processes, against a local store and against a bucket
of moto's S3 server on loopback (started here: ``moto[server]``, from the test extra),
in turns: write 100 runs x 1,000 steps x 3 keys (each run flushed by hand a few times),
then read them back with ``runs()`` and ``metrics(ids)`` in a fresh process. Printed as
S3 / local ratios measured in this run. moto is a Python server on this machine: every
request costs its CPU, not a network's latency, so the ratios say how many requests the
store makes more than what a real bucket would cost. Results go to
``benchmarks/results/s3.json``. See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_core import REPO, Table, WorkerError, base_env, fmt, header, meta, ratio
from bench_core import worker as run_worker

HERE = Path(__file__).resolve().parent
PY = sys.executable
SIZES = {"runs": (100, 10), "steps": (1_000, 200), "flushes": (4, 2), "reps": (5, 3),
         "rounds": (2, 1)}


def worker(task: str, params: dict, env: dict, cwd: Path, timeout: float = 3600) -> dict:
    return run_worker("_s3_work.py", task, params, env, cwd, timeout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10x smaller, for a smoke run")
    parser.add_argument("--json", default=str(HERE / "results" / "s3.json"),
                        help="where to write the results (default: %(default)s)")
    parser.add_argument("--tmp", default=None, help="folder for the local stores and spools")
    args = parser.parse_args(argv)
    s = {k: v[1 if args.quick else 0] for k, v in SIZES.items()}
    sys.path.insert(0, str(REPO / "tests"))
    from s3server import MotoServer

    info = meta(args.quick)
    root = Path(tempfile.mkdtemp(prefix="nbtrack-bench-s3-", dir=args.tmp))
    print(f"nbtrack S3 store benchmark ({'quick' if args.quick else 'full'}): {s['runs']} runs x "
          f"{s['steps']} steps x 3 keys, {s['rounds']} round(s) of each backend in turns; "
          f"git {info['git_commit']}{' + local changes' if info['nbtrack_dirty'] else ''}")
    print("ratio = S3 (moto on loopback) / local folder, measured in this run")
    server = MotoServer()
    results: dict = {"local": [], "s3": []}
    try:
        for n in range(s["rounds"]):
            for backend in ("local", "s3"):
                env = base_env()
                env["NBTRACK_SPOOL"] = str(root / f"spool-{n}")
                if backend == "s3":
                    env.update(server.env())
                    env["NBTRACK_HOME"] = server.bucket()
                else:
                    env["NBTRACK_HOME"] = str(root / f"local-{n}")
                env["NBTRACK_FLUSH_INTERVAL"] = "3600"  # flushes are the timed ones only
                w = worker("write", {"runs": s["runs"], "steps": s["steps"],
                                     "flushes": s["flushes"]}, env, root)
                r = worker("read", {"reps": s["reps"]}, env, root)
                results[backend].append(dict(w, **r))
                print(f"  round {n + 1} {backend}: wrote in {w['total_s']:.1f} s, "
                      f"read {r['points']} points", flush=True)
    except (WorkerError, subprocess.SubprocessError, OSError) as exc:
        print(f"FAILED: {type(exc).__name__}: {exc}")
        return 1
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)

    def med(backend: str, key: str) -> float:
        return statistics.median(x[key] for x in results[backend])

    header("writing: flush cost and run end on S3 against the local store")
    table = Table()
    rows = [
        (f"run.flush() of {results['s3'][0]['points_per_flush']} points", "flush_median_s"),
        ("  p90 of the flushes", "flush_p90_s"),
        ("start_run()", "start_median_s"),
        ("run.end() (last flush, merge, summary)", "end_median_s"),
        (f"a whole run ({s['steps']} steps x 3 keys)", "run_median_s"),
        (f"all {s['runs']} runs", "total_s"),
    ]
    for label, key in rows:
        table.add(label, fmt(med("s3", key), "s"), f"local {fmt(med('local', key), 's')}",
                  ratio(med("s3", key), med("local", key)))
    header(f"reading back {s['runs']} runs ({s['runs'] * s['steps'] * 3:,} points) in a fresh process")
    for label, key in [("runs() first call", "runs_cold_s"), ("runs() warm median", "runs_warm_s"),
                       ("metrics(ids) first call", "metrics_cold_s"),
                       ("metrics(ids) warm median", "metrics_warm_s")]:
        table.add(label, fmt(med("s3", key), "s"), f"local {fmt(med('local', key), 's')}",
                  ratio(med("s3", key), med("local", key)))
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": dict(info, sizes=s), "results": results}, indent=2))
    print(f"results written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
