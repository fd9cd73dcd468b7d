"""Environment and git capture at run start: cold and warm costs, as ratios to baselines.

    .venv/bin/python benchmarks/bench_env.py

Cold snapshot: the first ``env.snapshot()`` of a fresh interpreter (what a kernel
pays once), and ``invalidate()`` + ``snapshot()`` in a warm one (what a ``%pip``
costs). Warm: the cached call every run start makes. ``git.info``: first and
repeated calls on a small repository made here, and outside any repository.
Baselines measured in the same run: ``subprocess.run(["true"])`` (one process
spawn, the floor of anything that asks git or nvidia-smi) and ``os.getcwd()``.
Target (issue 3): cold capture <= 200 ms.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nbtrack.capture import env, git  # noqa: E402

FRESH = """
import json, time
t0 = time.perf_counter()
from nbtrack.capture import env
t1 = time.perf_counter()
snap = env.snapshot()
t2 = time.perf_counter()
env.snapshot()
t3 = time.perf_counter()
print(json.dumps({"import_ms": (t1 - t0) * 1e3, "cold_ms": (t2 - t1) * 1e3,
                  "warm_us": (t3 - t2) * 1e6, "packages": len(snap["packages"]),
                  "gpus": len(snap["gpus"]), "gpus_reason": snap["gpus_reason"]}))
"""


def median_s(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def fresh_processes(n: int = 7) -> dict:
    runs = []
    for _ in range(n):
        out = subprocess.run([sys.executable, "-c", FRESH], capture_output=True, text=True,
                             cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True)  # fmt: skip
        runs.append(json.loads(out.stdout))
    keys = ("import_ms", "cold_ms", "warm_us")
    return {**runs[-1], **{k: statistics.median(r[k] for r in runs) for k in keys}}


def small_repo(folder: Path) -> Path:
    ident = {"GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@x", "GIT_COMMITTER_NAME": "b",
             "GIT_COMMITTER_EMAIL": "b@x"}  # fmt: skip
    run = {"cwd": folder, "check": True, "capture_output": True, "env": {**os.environ, **ident}}
    subprocess.run(["git", "init", "-q"], **run)
    for i in range(200):
        (folder / f"m{i}.py").write_text(f"x = {i}\n")
    subprocess.run(["git", "add", "."], **run)
    subprocess.run(["git", "commit", "-q", "-m", "c"], **run)
    subprocess.run(["git", "remote", "add", "origin", "https://u:t@example.com/r.git"], **run)
    return folder


def main() -> None:
    spawn = median_s(lambda: subprocess.run(["true"]), 50)
    getcwd = median_s(os.getcwd, 10_000)
    fresh = fresh_processes()
    env.snapshot()
    recapture = median_s(lambda: env.snapshot(refresh=True), 20)
    warm = median_s(env.snapshot, 10_000)
    print(f"baselines: spawn `true` {spawn * 1e3:.2f} ms   os.getcwd() {getcwd * 1e6:.2f} us")
    print(f"packages {fresh['packages']}, gpus {fresh['gpus']} ({fresh['gpus_reason']})")
    print(f"import nbtrack.capture.env (fresh process)  {fresh['import_ms']:7.2f} ms")
    print(f"snapshot cold, fresh process               {fresh['cold_ms']:7.2f} ms"
          f"   {fresh['cold_ms'] / 1e3 / spawn:6.1f}x spawn   (target <= 200 ms)")  # fmt: skip
    print(f"snapshot recapture (after invalidate)      {recapture * 1e3:7.2f} ms"
          f"   {recapture / spawn:6.1f}x spawn")  # fmt: skip
    print(f"snapshot warm (cached)                     {warm * 1e6:7.2f} us"
          f"   {warm / getcwd:6.1f}x os.getcwd()")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "repo").mkdir()
        repo = small_repo(Path(tmp) / "repo")
        t = time.perf_counter()
        git.info(repo)
        first = time.perf_counter() - t
        again = median_s(lambda: git.info(repo), 50)
        (Path(tmp) / "plain").mkdir()
        outside = median_s(lambda: git.info(Path(tmp) / "plain"), 200)
    print(f"git.info first call (200-file repo)        {first * 1e3:7.2f} ms"
          f"   {first / spawn:6.1f}x spawn")  # fmt: skip
    print(f"git.info repeated                          {again * 1e3:7.2f} ms"
          f"   {again / spawn:6.1f}x spawn")  # fmt: skip
    print(f"git.info outside a repository              {outside * 1e6:7.2f} us"
          f"   {outside / getcwd:6.1f}x os.getcwd()")  # fmt: skip


if __name__ == "__main__":
    main()
