"""kill -9 at random moments: of a logging process (the first second included), during
``end()``, during merges as a long run goes, during index compaction, and of a real
kernel mid-cell. After each: the store reads with no warning, the killed run reads
``crashed`` (or ``completed`` when ``end()`` finished first), every key's points are a
gap-free prefix, and what was lost is at most about one flush interval.

    python stress/kills.py [--quick] [--kills 200]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import time

from _common import fresh_store, gap_free, point_count, read_all_quietly, report, spawn

HOT = """
    import json, sys, time, nbtrack
    run = nbtrack.start_run("kill")
    print(json.dumps({"run_id": run.id, "t0": time.time()}), flush=True)
    step = 0
    while True:  # a hot loop: the logging thread holds the GIL
        run.log({"t": time.time(), "i": float(step)}, step=step)
        step += 1
"""
ENDING = """
    import json, time, nbtrack
    run = nbtrack.start_run("end")
    for step in range(STEPS):
        run.log({"a": float(step)}, step=step)
    print(json.dumps({"run_id": run.id}), flush=True)
    run.end()
    print("ended", flush=True)
    time.sleep(60)
"""
MERGING = """
    import json, time, nbtrack
    from nbtrack import run as run_module
    run_module.COMPACT_EVERY, run_module.MERGE_AFTER_S = 4, 0.0
    run = nbtrack.start_run("merge")
    print(json.dumps({"run_id": run.id}), flush=True)
    step = 0
    while True:
        run.log({"a": float(step)}, step=step)
        step += 1
        if step % 200 == 0:
            run.flush()
"""
INDEXING = """
    import json, nbtrack
    n = 0
    while True:
        with nbtrack.start_run("index", params={"n": n}) as run:
            run.log({"n": float(n)})
        print(json.dumps({"run_id": run.id}), flush=True)
        n += 1
"""


def kill_hot(rng, kills: int, figures: dict, interval: float) -> None:
    lost_after_1s, lost_first_s, empty_first_s, bad = [], [], 0, []
    for k in range(kills):
        proc = spawn(HOT)
        info = json.loads(proc.stdout.readline())
        delay = rng.uniform(0.05, 3.0) if k % 4 else rng.uniform(0.05, 1.0)
        time.sleep(delay)  # the kill moment, at random
        killed_at = time.time()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        import nbtrack

        points = nbtrack.metrics([info["run_id"]])
        on_disk = points.filter(points["key"] == "t")["value"]
        flushed_until = on_disk.max() if on_disk.len() else info["t0"]
        lost = killed_at - flushed_until
        age = killed_at - info["t0"]
        if age >= 1.0:
            lost_after_1s.append(lost)
        else:
            lost_first_s.append(lost)
            empty_first_s += on_disk.len() == 0
        status = nbtrack.get_run(info["run_id"], with_metrics=False)["status"]
        if status != "crashed" or not gap_free(points, info["run_id"]):
            bad.append((info["run_id"], status))
    figures.update({
        "hot_kills": kills, "hot_bad": len(bad),
        "hot_kills_after_1s": len(lost_after_1s),
        "hot_lost_s_after_1s_max": round(max(lost_after_1s, default=0), 3),
        "hot_lost_s_after_1s_median": round(statistics.median(lost_after_1s or [0]), 3),
        "hot_over_one_interval_after_1s": sum(x > interval for x in lost_after_1s),
        "hot_kills_in_1st_s": len(lost_first_s),
        "hot_nothing_on_disk_in_1st_s": empty_first_s,
        "hot_lost_s_in_1st_s_max": round(max(lost_first_s, default=0), 3),
    })


def kill_ending(rng, kills: int, figures: dict) -> None:
    import nbtrack

    completed = crashed = bad = 0
    for _ in range(kills):
        steps = rng.choice([1000, 20_000, 100_000])
        proc = spawn(ENDING.replace("STEPS", str(steps)))
        info = json.loads(proc.stdout.readline())
        time.sleep(rng.uniform(0.0, 0.4))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        points = nbtrack.metrics([info["run_id"]])
        status = nbtrack.get_run(info["run_id"], with_metrics=False)["status"]
        completed += status == "completed"
        crashed += status == "crashed"
        whole = status != "completed" or points.height == steps
        bad += not (gap_free(points, info["run_id"]) and whole) or status not in (
            "completed", "crashed")
    figures.update({"end_kills": kills, "end_completed": completed, "end_crashed": crashed,
                    "end_bad": bad})


def kill_loop(rng, kills: int, figures: dict, code: str, label: str) -> None:
    import nbtrack

    bad = dup = 0
    for _ in range(kills):
        proc = spawn(code)
        first = json.loads(proc.stdout.readline())
        time.sleep(rng.uniform(0.2, 1.5))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        points = nbtrack.metrics([first["run_id"]])
        dup += points.height != points.unique(["key", "step"]).height
        bad += not gap_free(points, first["run_id"])
    frame = nbtrack.runs()
    figures.update({f"{label}_kills": kills, f"{label}_bad": bad, f"{label}_duplicated": dup,
                    f"{label}_runs_listed_twice": frame.height - frame["run_id"].n_unique(),
                    f"{label}_running_left": int((frame["status"] == "running").sum())})


def kill_kernels(rng, kills: int, figures: dict) -> None:
    import nbtrack

    from kernel import Kernel

    bad = 0
    for _ in range(kills):
        with Kernel(os.getcwd(), {"NBTRACK_HOME": os.environ["NBTRACK_HOME"]}) as k:
            k.run("%load_ext nbtrack\n%track start kernel", allow_error=False)
            run_id = k.run("print(nbtrack.active_run().id)").stdout.strip()
            k.kc.execute("import time\nfor i in range(10**9):\n    nbtrack.log(x=float(i))\n")
            time.sleep(rng.uniform(0.5, 2.0))  # mid-cell
            k.kill9()
        points = nbtrack.metrics([run_id])
        status = nbtrack.get_run(run_id, with_metrics=False)["status"]
        bad += status != "crashed" or not gap_free(points, run_id) or points.height == 0
    figures.update({"kernel_kills": kills, "kernel_bad": bad})


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--kills", type=int, default=200)
    args = parser.parse_args(argv)
    kills = 8 if args.quick else args.kills
    rng = random.Random(12)
    started = time.time()
    fresh_store("kills")
    from nbtrack import flushing

    figures: dict = {"flush_interval_s": flushing.FLUSH_INTERVAL_S}
    kill_hot(rng, kills, figures, flushing.FLUSH_INTERVAL_S)
    kill_ending(rng, max(4, kills // 4), figures)
    kill_loop(rng, max(4, kills // 8), figures, MERGING, "merge")
    kill_loop(rng, max(4, kills // 8), figures, INDEXING, "index")
    kill_kernels(rng, 2 if args.quick else 10, figures)
    corrupt, errors = read_all_quietly(per_run=True)
    import nbtrack
    from nbtrack.store import tidy
    from nbtrack.store.layout import Layout

    ids = nbtrack.runs()["run_id"].to_list()
    before = point_count(ids)
    swept = tidy.compact_abandoned(Layout(os.environ["NBTRACK_HOME"]))
    figures.update({
        "store_read_corrupt_warnings": corrupt, "store_read_errors": len(errors),
        "first_errors": errors[:3], "tidy_merged_runs": sum("merged" in x for x in swept),
        "points_lost_by_tidy": before - point_count(ids), "points_in_store": before,
    })
    figures["_failed"] = bool(figures["hot_bad"] or figures["end_bad"] or figures["merge_bad"]
                              or figures["merge_duplicated"] or figures["index_bad"]
                              or figures["index_duplicated"] or figures["kernel_bad"]
                              or corrupt or errors or figures["points_lost_by_tidy"]
                              or figures["index_runs_listed_twice"])
    return report("kills", figures, started)


if __name__ == "__main__":
    raise SystemExit(main())
