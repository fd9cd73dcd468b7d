"""8 writer processes (runs, metrics with merges as they go, artifacts, index compaction,
sweep trials) and concurrent readers on one store: nothing lost or duplicated, 0 reader
failures.

    python stress/concurrency.py [--quick] [--writers 8] [--readers 3]
"""

from __future__ import annotations

import argparse
import json
import threading
import time

from _common import fresh_store, read_all_quietly, report, spawn

WRITER = """
    import json, os, sys
    import nbtrack
    from nbtrack import run as run_module
    run_module.COMPACT_EVERY, run_module.MERGE_AFTER_S = 4, 0.0  # merge as they go, often
    w, runs, steps = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    made = []
    os.makedirs(f"art{w}", exist_ok=True)
    for r in range(runs):
        with nbtrack.start_run("stress", tags=[f"w{w}"], params={"w": w, "r": r}) as run:
            for step in range(steps):
                run.log({"a": step, "b": w * 1000 + r}, step=step)
                if step % 50 == 49:
                    run.flush()
            with open(f"art{w}/m{r}.bin", "wb") as f:
                f.write(os.urandom(64))
            run.log_artifact(f"art{w}/m{r}.bin", artifact_path="models")
            run.add_tags("done")
        made.append(run.id)
    sweep = nbtrack.sweep(f"sweep-{w}", strategy="random", objective="acc", max_trials=3,
                          parameters={"lr": {"min": 0.001, "max": 0.1}}) \
        if hasattr(nbtrack, "sweep") else None
    for _ in range(3 if sweep is not None else 0):
        params, trial = sweep.suggest()
        for step in range(20):
            trial.log({"acc": step / 20}, step=step)
        sweep.complete(trial, {"acc": 0.9})
        made.append(trial.id)
    print(json.dumps({"writer": w, "runs": made[:runs], "trials": made[runs:]}), flush=True)
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--readers", type=int, default=3)
    args = parser.parse_args(argv)
    runs, steps = (3, 200) if args.quick else (12, 600)
    started = time.time()
    root = fresh_store("concurrency")
    import nbtrack

    nbtrack.start_run("stress").end()  # make the store
    code = WRITER.replace("sys.argv[1]", "W").replace("sys.argv[2]", str(runs)).replace(
        "sys.argv[3]", str(steps))
    procs = [spawn(code.replace("int(W)", str(w))) for w in range(args.writers)]
    reads = {"n": 0, "corrupt": 0, "errors": []}
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            corrupt, errors = read_all_quietly()
            reads["n"] += 1
            reads["corrupt"] += corrupt
            reads["errors"] += errors

    # readers are threads of this process: each read lists and opens files while the
    # writers flush, merge and compact under it
    threads = [threading.Thread(target=reader) for _ in range(args.readers)]
    for t in threads:
        t.start()
    outputs = [p.communicate(timeout=1800) for p in procs]
    stop.set()
    for t in threads:
        t.join()
    failed_writers = [err[-2000:] for p, (_, err) in zip(procs, outputs, strict=True)
                      if p.returncode != 0]
    manifests = [json.loads(out.strip().splitlines()[-1]) for p, (out, _) in
                 zip(procs, outputs, strict=True) if p.returncode == 0]
    frame = nbtrack.runs(include_archived=True)
    points = nbtrack.metrics(frame)
    lost = duplicated = wrong = 0
    counts = dict(points.group_by("run_id").len().iter_rows())
    for m in manifests:
        for run_id in m["runs"]:
            n = counts.get(run_id, 0)
            lost += max(0, 2 * steps - n)
            duplicated += max(0, n - 2 * steps)
            log = nbtrack.get_run(run_id)
            wrong += log["status"] != "completed" or "done" not in log["tags"] \
                or len(log["artifacts"]) != 1
        for run_id in m["trials"]:
            lost += max(0, 20 - counts.get(run_id, 0))
    ids = frame["run_id"].to_list()
    figures = {
        "store": str(root), "writers": args.writers, "runs": len(ids),
        "points": points.height, "reads": reads["n"], "reader_failures": len(reads["errors"]),
        "corrupt_warnings": reads["corrupt"], "points_lost": lost,
        "points_duplicated": duplicated, "runs_wrong": wrong,
        "runs_listed_twice": len(ids) - len(set(ids)), "writer_failures": len(failed_writers),
        "first_errors": (reads["errors"] + failed_writers)[:3],
    }
    figures["_failed"] = bool(reads["errors"] or reads["corrupt"] or lost or duplicated or wrong
                              or failed_writers or len(ids) != len(set(ids)))
    return report("concurrency", figures, started)


if __name__ == "__main__":
    raise SystemExit(main())
