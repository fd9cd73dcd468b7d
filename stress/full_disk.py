"""A full disk, at full strength: ENOSPC (and EIO) injected at the Nth write of a logging
process, for a while or for good; then space returns (or not) and the run ends. Counted:
points lost when space returned (must be 0), exceptions the training loop saw (must be
0), runs whose end() could be finished. A real small tmpfs is used too when this
machine lets us mount one.

    python stress/full_disk.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time

from _common import fresh_store, report, spawn

CHILD = """
    import errno, json, os, sys, warnings
    import pyarrow as pa
    import nbtrack
    from nbtrack.store import arrow_io, atomic
    fail_from, fail_for, code = FAIL_FROM, FAIL_FOR, ERRNO
    count = {"n": 0}
    real_write, real_sink = atomic._write, arrow_io._sink

    def refused():
        count["n"] += 1
        return fail_from <= count["n"] < fail_from + fail_for

    def write(fd, data):
        if refused():
            raise OSError(code, os.strerror(code), "injected")
        return real_write(fd, data)

    class Sink:
        closed = False
        def __init__(self, path):
            self.f = open(path, "wb")
            self.fail = refused()
        def write(self, data):
            if self.fail:
                raise OSError(code, os.strerror(code), "injected")
            return self.f.write(data)
        def flush(self):
            self.f.flush()
        def close(self):
            self.closed = True
            self.f.close()

    warnings.simplefilter("ignore")
    run = nbtrack.start_run("disk")  # then the disk starts to fail, at its Nth write
    atomic._write = write
    arrow_io._sink = lambda path: pa.PythonFile(Sink(path), mode="w")
    seen = 0
    for step in range(STEPS):
        try:
            run.log({"a": float(step)}, step=step)
            if step % 500 == 499:
                run.add_tags(f"t{step}")
        except Exception:
            seen += 1
    ended = False
    for attempt in range(50):
        try:
            run.end()
            ended = True
            break
        except nbtrack.errors.StoreWriteError:
            import time
            time.sleep(0.05)
    print(json.dumps({"run_id": run.id, "seen": seen, "ended": ended,
                      "refused": max(0, min(count["n"], fail_from + fail_for) - fail_from)}))
"""


def one(fail_from: int, fail_for: int, errno_code: int, steps: int) -> dict:
    code = (CHILD.replace("FAIL_FROM", str(fail_from)).replace("FAIL_FOR", str(fail_for))
            .replace("ERRNO", str(errno_code)).replace("STEPS", str(steps)))
    proc = spawn(code)
    out, err = proc.communicate(timeout=600)
    if proc.returncode != 0:
        return {"error": err[-500:]}
    return json.loads(out.strip().splitlines()[-1])


def tmpfs_check(steps: int) -> dict:
    """A 4 MB tmpfs filled up for real (if this machine lets us mount one)."""
    mnt = tempfile.mkdtemp(prefix="nbtrack-tmpfs-")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", mnt],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        return {"tmpfs": f"not available here ({mounted.stderr.strip()[:80]})"}
    try:
        code = f"""
            import json, os, warnings
            warnings.simplefilter("ignore")
            import nbtrack
            run = nbtrack.start_run("tmpfs", store={mnt + '/store'!r})
            with open({mnt + '/ballast'!r}, "wb") as f:  # fill the disk
                try:
                    while True:
                        f.write(b"x" * 65536); f.flush()
                except OSError:
                    pass
            seen = 0
            for step in range({steps}):
                try:
                    run.log({{"a": float(step)}}, step=step)
                except Exception:
                    seen += 1
            try:
                run.end()
                first_end = "ok"
            except nbtrack.errors.StoreWriteError:
                first_end = "raised"
            os.remove({mnt + '/ballast'!r})  # space comes back
            run.end()
            print(json.dumps({{"run_id": run.id, "seen": seen, "first_end": first_end}}))
        """
        proc = spawn(code)
        out, err = proc.communicate(timeout=600)
        if proc.returncode != 0:
            return {"tmpfs_error": err[-300:]}
        info = json.loads(out.strip().splitlines()[-1])
        import nbtrack

        points = nbtrack.metrics([info["run_id"]], store=mnt + "/store").height
        return {"tmpfs_points_lost": steps - points, "tmpfs_loop_exceptions": info["seen"],
                "tmpfs_first_end": info["first_end"]}
    finally:
        subprocess.run(["umount", mnt], capture_output=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    started = time.time()
    fresh_store("full-disk")
    import errno

    import nbtrack

    nbtrack.start_run("disk").end()  # the store exists before its disk fills up
    steps = 20_000 if args.quick else 200_000
    cases = [(n, k, e) for e in (errno.ENOSPC, errno.EIO) for n in (1, 2, 3, 5, 8, 13)
             for k in (1, 5, 40)]
    if args.quick:
        cases = cases[::6]
    lost = seen = not_ended = failures = 0
    refused = 0
    for fail_from, fail_for, code in cases:
        info = one(fail_from, fail_for, code, steps)
        if "error" in info:
            failures += 1
            continue
        refused += info["refused"]
        points = nbtrack.metrics([info["run_id"]]).height
        lost += steps - points
        seen += info["seen"]
        not_ended += not info["ended"]
    # for good: the disk never comes back; end() keeps saying so, nothing crashes
    forever = one(1, 10**9, errno.ENOSPC, steps // 10)
    figures = {"runs": len(cases), "writes_refused": refused,
               "points_lost_when_space_returned": lost, "exceptions_seen_by_log": seen,
               "runs_not_ended_after_space_returned": not_ended, "child_failures": failures,
               "never_returns": {"loop_exceptions": forever.get("seen"),
                                 "ended": forever.get("ended")}}
    figures.update(tmpfs_check(steps // 4))
    figures["_failed"] = bool(lost or seen or not_ended or failures
                              or forever.get("seen") or forever.get("ended")
                              or figures.get("tmpfs_points_lost"))
    return report("full_disk", figures, started)


if __name__ == "__main__":
    raise SystemExit(main())
