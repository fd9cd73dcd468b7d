"""Lineage benchmarks: hashing throughput and the cost of file tracing per ``open``.

    .venv/bin/python benchmarks/bench_lineage.py [--size-mb 512] [--opens 20000]

Prints figures, asserts nothing. Hashing: nbtrack's streaming ``hash_file`` and
``put_file`` (hash + copy into the store) on a large file written to a temporary
folder, against plain ``hashlib.sha256`` over the same bytes in memory (the
ceiling) and ``cat file > /dev/null`` (the read speed); then the cached re-hash
of the unchanged file. The file was just written, so it is read from the page
cache: these are CPU figures, not disk figures.

Per ``open``: audit hooks cannot be removed, so each case runs in its own
process: no hook at all; the hook installed but no run traced; a traced run
opening a file it has already recorded (a ``stat`` and a dict lookup); a traced
run opening a file outside the working tree (filtered out); a traced run opening
a file for writing (noted, hashed later).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MB = 1 << 20


def best(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


# ------------------------------------------------------------------ hashing
def _in_memory(data: bytes) -> float:
    return best(lambda: hashlib.sha256(data).hexdigest())


def hashing(size_mb: int) -> None:
    sys.path.insert(0, str(ROOT))
    from nbtrack.store import objects
    from nbtrack.store.layout import Layout

    with tempfile.TemporaryDirectory(prefix="nbtrack-bench-") as tmp:
        path = Path(tmp) / "big.bin"
        block = os.urandom(MB)
        with open(path, "wb") as f:
            for i in range(size_mb):
                f.write(block[i % 251:] + block[: i % 251])  # not one repeated block
        size = path.stat().st_size
        t_mem = _in_memory(path.read_bytes())
        t_cat = best(lambda: subprocess.run(f"cat {path} > /dev/null", shell=True, check=True))  # noqa: S602

        def fresh_hash():
            objects._cache.clear()
            return objects.hash_file(path)

        t_hash = best(fresh_hash)
        layout = Layout(Path(tmp) / "store")

        def fresh_put():
            objects._cache.clear()
            shutil.rmtree(layout.objects_dir / "sha256", ignore_errors=True)
            return objects.put_file(layout, path)

        t_put = best(fresh_put)
        objects.hash_file(path)
        n = 10_000
        t0 = time.perf_counter()
        for _ in range(n):
            objects.hash_file(path)
        t_cached = (time.perf_counter() - t0) / n
        assert objects.hash_file(path).sha256 == fresh_hash().sha256

    mbs = size / MB
    print(f"hashing a {mbs:.0f} MB file (page cache warm), best of 3")
    print(f"  hashlib.sha256 over the bytes in memory  {mbs / t_mem:8.0f} MB/s   (ceiling)")
    print(f"  cat file > /dev/null                     {mbs / t_cat:8.0f} MB/s   (read speed)")
    print(f"  nbtrack hash_file (streaming, 1 MiB)     {mbs / t_hash:8.0f} MB/s   "
          f"{t_mem / t_hash:.2f}x of in-memory sha256")
    print(f"  nbtrack put_file (hash + copy to store)  {mbs / t_put:8.0f} MB/s")
    print(f"  cached re-hash of the unchanged file     {t_cached * 1e6:8.1f} µs   "
          f"(a stat and a dict lookup; {t_hash / t_cached:,.0f}x faster)")


# ------------------------------------------------------------------ per open
CASES = {
    "no hook": "none",
    "hook installed, no run traced": "disabled",
    "traced run, file already recorded": "seen",
    "traced run, file outside the tree": "outside",
    "traced run, open for writing": "write",
}


def open_worker(mode: str, n: int) -> None:
    """One case, in a fresh process; prints ns per open and per bare audit event
    (best of 5 rounds)."""
    tree = Path(tempfile.mkdtemp(prefix="nbtrack-tree-"))
    outside = Path(tempfile.mkdtemp(prefix="nbtrack-outside-"))
    os.chdir(tree)
    os.environ["NBTRACK_HOME"] = str(tree / ".store")
    (tree / "data.csv").write_text("x,y\n1,2\n")
    (outside / "far.csv").write_text("x,y\n1,2\n")
    sys.path.insert(0, str(ROOT))
    import nbtrack

    target, how = "data.csv", "r"
    if mode == "disabled":
        nbtrack.start_run("bench", trace_files=True).end()
    elif mode in ("seen", "outside", "write"):
        nbtrack.start_run("bench", trace_files=True)
        open("data.csv").close()  # recorded once; later opens find it unchanged
        if mode == "outside":
            target = str(outside / "far.csv")
        if mode == "write":
            target, how = "out.csv", "w"
    flags = os.O_CLOEXEC | (os.O_WRONLY | os.O_CREAT | os.O_TRUNC if how == "w" else os.O_RDONLY)
    opens, hook, events = [], [], []
    for _ in range(5):
        t0 = time.perf_counter_ns()
        for _ in range(n):
            open(target, how).close()
        opens.append((time.perf_counter_ns() - t0) / n)
        # the hook alone: the very event open() raises, without the system calls
        t0 = time.perf_counter_ns()
        for _ in range(n):
            sys.audit("open", target, how, flags)
        hook.append((time.perf_counter_ns() - t0) / n)
        t0 = time.perf_counter_ns()
        for _ in range(n):
            sys.audit("bench.event", 1)
        events.append((time.perf_counter_ns() - t0) / n)
    active = nbtrack.active_run()
    if active is not None:
        active.end()
    print(json.dumps({"mode": mode, "ns": min(opens), "hook_ns": min(hook),
                      "event_ns": min(events)}))
    shutil.rmtree(tree, ignore_errors=True)
    shutil.rmtree(outside, ignore_errors=True)


def per_open(n: int, rounds: int = 3) -> None:
    results: dict[str, dict] = {}
    for _ in range(rounds):  # interleaved, so a noisy neighbour hits every case alike
        for label, mode in CASES.items():
            out = subprocess.run(
                [sys.executable, __file__, "--worker", mode, "--opens", str(n)],
                check=True, capture_output=True, text=True,
            ).stdout
            got = json.loads(out.strip().splitlines()[-1])
            old = results.get(label)
            results[label] = got if old is None else {
                k: min(old[k], got[k]) if k != "mode" else got[k] for k in got}
    base = results["no hook"]["ns"]
    print(f"\nper open(path).close(): {n} opens x best of 5 x {rounds} processes per case;")
    print("'open event' is sys.audit('open', ...) alone: the hook's own work per open,")
    print("'other event' any audit event that is not an open (imports, exec, ...)")
    print(f"  {'':36s} {'open+close':>10s} {'ratio':>6s} {'added':>10s} {'open event':>11s}"
          f" {'other event':>12s}")
    for label, r in results.items():
        ns = r["ns"]
        print(f"  {label:36s} {ns / 1000:7.2f} µs {ns / base:5.2f}x {(ns - base) / 1000:+7.2f} µs"
              f" {r['hook_ns'] / 1000:8.2f} µs {r['event_ns']:9.0f} ns")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=512)
    parser.add_argument("--opens", type=int, default=20_000)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        open_worker(args.worker, args.opens)
        return
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")
    hashing(args.size_mb)
    per_open(args.opens)


if __name__ == "__main__":
    main()
