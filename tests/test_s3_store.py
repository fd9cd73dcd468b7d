"""The store on a real S3-compatible server (moto on loopback) where a bucket differs from
a folder: the server going away mid-run (paused with SIGSTOP: connections hang, requests
time out), two "machines" (own host names, no shared local folder) logging into one bucket,
and what a bucket's objects look like to a reader without nbtrack."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import polars as pl
import pytest
from conftest import child_environ
from s3server import MotoServer

import nbtrack
from nbtrack.store import liveness
from nbtrack.store.layout import as_root

from support import finish, read_line, wait_for

pytest.importorskip("obstore")

# the child's requests give up after 1 s instead of 10 s while the server is paused
FAST_TIMEOUTS = {"NBTRACK_S3_TIMEOUT": "1s", "NBTRACK_S3_CONNECT_TIMEOUT": "1s"}


@pytest.fixture(scope="module")
def pausable():
    """A moto server of this module's own: pausing it stalls no other test's requests."""
    server = MotoServer()
    yield server
    server.stop()


@pytest.fixture
def down_store(pausable, monkeypatch, tmp_path):
    """``NBTRACK_HOME`` on a fresh bucket of ``pausable``; the spool under tmp_path; the
    server running again after the test, whatever happened."""
    for key, value in pausable.env().items():
        monkeypatch.setenv(key, value)
    url = pausable.bucket()
    monkeypatch.setenv("NBTRACK_HOME", url)
    monkeypatch.setenv("NBTRACK_SPOOL", str(tmp_path / "spool"))
    yield url
    pausable.resume()


def say(proc, word: str) -> None:
    proc.stdin.write(word + "\n")
    proc.stdin.flush()


# the child counts the warnings it is shown (any thread), and prints them at exit
WARNINGS = """
    import atexit, json, sys, time, warnings
    shown = []
    warnings.simplefilter("always")
    warnings.showwarning = lambda message, *a, **k: shown.append(str(message))
    atexit.register(lambda: print("WARNINGS " + json.dumps(shown), flush=True))
    import nbtrack

    def wait_for_warning(words, deadline=60):
        end = time.monotonic() + deadline
        while not any(words in w for w in shown):
            if time.monotonic() > end:
                raise SystemExit(f"no warning with {words!r}: {shown}")
            time.sleep(0.02)  # polling, as support.wait_for does
"""


def shown_warnings(out: str) -> list[str]:
    [line] = [x for x in out.splitlines() if x.startswith("WARNINGS ")]
    return json.loads(line[len("WARNINGS "):])


def test_a_flush_while_the_server_is_down_loses_nothing_and_warns_once(
        down_store, pausable, spawn, tmp_path):
    code = WARNINGS + """
    run = nbtrack.start_run("net", params={"lr": 0.1})
    step = 0
    for _ in range(100):
        run.log({"loss": float(step)}, step=step); step += 1
    run.flush()
    print(run.id, flush=True)
    sys.stdin.readline()                      # the server is paused now
    while not any("cannot be reached" in w for w in shown) and step < 10**7:
        run.log({"loss": float(step)}, step=step); step += 1   # the training loop goes on
        if step % 1000 == 0:
            time.sleep(0.01)                  # a loop that does some work between points
    for _ in range(500):
        run.log({"loss": float(step)}, step=step); step += 1
    print("spooled", step, flush=True)
    sys.stdin.readline()                      # the server answers again
    for _ in range(100):
        run.log({"loss": float(step)}, step=step); step += 1
    run.end()
    print("ended", step, flush=True)
    """
    proc = spawn(code, env=FAST_TIMEOUTS)
    run_id = read_line(proc)
    pausable.pause()
    try:
        say(proc, "paused")
        word, _ = read_line(proc, timeout=120).split()
        assert word == "spooled"
    finally:
        pausable.resume()
    say(proc, "resumed")
    out = finish(proc, timeout=120)
    total = int(re.search(r"^ended (\d+)$", out, re.M).group(1))
    warned = [w for w in shown_warnings(out) if "cannot be reached" in w]
    assert len(warned) == 1, shown_warnings(out)  # told once, however many flushes failed
    assert "nothing is lost" in warned[0] and str(tmp_path / "spool") in warned[0]  # where
    points = nbtrack.metrics([run_id])
    assert points["step"].to_list() == list(range(total))  # every point, once, in order
    assert points["value"].to_list() == [float(s) for s in range(total)]
    log = nbtrack.get_run(run_id)
    assert log["status"] == "completed" and log["params"] == {"lr": 0.1}


def settled(backend) -> None:
    """Wait until two listings of the bucket, a moment apart, show the same objects."""
    def same() -> bool:
        first = sorted((e.key, e.etag) for e in backend.walk(""))
        time.sleep(0.2)  # a moment between the two looks, not a synchronisation
        return first == sorted((e.key, e.etag) for e in backend.walk(""))

    wait_for(same, timeout=30, what="the bucket to stop changing")


def test_a_run_ended_while_the_server_is_down_waits_in_the_spool_until_it_answers(
        down_store, pausable, spawn, tmp_path, monkeypatch):
    spool = tmp_path / "spool"  # the writer's machine's; this process reads as another one
    monkeypatch.setenv("NBTRACK_SPOOL", str(tmp_path / "reader-spool"))
    writer_env = dict(FAST_TIMEOUTS, NBTRACK_SPOOL=str(spool))
    code = WARNINGS + """
    run = nbtrack.start_run("net", name="offline-end")
    for step in range(50):
        run.log({"loss": float(step)}, step=step)
    run.flush()
    print(run.id, flush=True)
    sys.stdin.readline()                      # the server is paused now
    for step in range(50, 300):
        run.log({"loss": float(step)}, step=step)
    run.note("written while the store was away")
    run.end()                                 # must not raise
    print("ended", flush=True)
    """
    proc = spawn(code, env=writer_env)
    run_id = read_line(proc)
    pausable.pause()
    try:
        say(proc, "paused")
        out, err = proc.communicate(timeout=180)
    finally:
        pausable.resume()
    assert proc.returncode == 0, err
    assert "ended" in out
    # at exit the writer says exactly where what it could not upload lies
    assert f"kept in {spool}" in err and "uploaded by the next nbtrack process" in err, err
    kept = [p for p in spool.rglob("*") if p.is_file()]
    assert kept, "nothing was spooled"
    # a request that timed out may still reach the server once it resumes (SIGSTOP kept it in
    # the socket's queue): take those copies away, as if they had been lost on the way
    bucket_dir = spool / down_store[len("s3://"):].split("/")[0]
    backend = as_root(down_store).backend
    settled(backend)  # the requests queued while the server was stopped are answered first
    for path in kept:
        backend.delete(path.relative_to(bucket_dir).as_posix())
    # until that machine uploads it, another one sees the run as it was before the pause
    assert nbtrack.metrics([run_id]).height == 50
    assert nbtrack.get_run(run_id)["status"] == "crashed"  # its process is gone, not ended
    # the next nbtrack process on the writer's machine uploads the spool, in order
    finish(spawn("""
        import nbtrack
        nbtrack.runs()
    """, env=writer_env))
    assert not [p for p in spool.rglob("*") if p.is_file()]
    points = nbtrack.metrics([run_id])
    assert points["step"].to_list() == list(range(300))
    log = nbtrack.get_run(run_id)
    assert log["status"] == "completed" and log["name"] == "offline-end"
    assert [n["text"] for n in log["notes"]] == ["written while the store was away"]


# ------------------------------------------------------------------ two machines, one bucket
# a "machine": its own host name (nbtrack asks socket.gethostname, patched before the import),
# its own HOME, spool and working folder; nothing on disk is shared with the other one
MACHINE = """
    import json, os, socket, sys, time
    socket.gethostname = lambda: os.environ["MACHINE"]
    import nbtrack
    me = os.environ["MACHINE"]
    sys.stdin.readline()                                   # both start together
    made = []
    for r in range(RUNS):
        with nbtrack.start_run("team", name="shared", tags=[me], params={"r": r}) as run:
            for step in range(STEPS):
                run.log({"loss": float(step), "r": float(r)}, step=step)
                if step % 100 == 99:
                    run.flush()
        made.append([run.id, run.name])
    print(json.dumps(made), flush=True)
    order = sys.stdin.readline().split()
    if order[0] == "hold":                                 # a run left open, to be killed
        run = nbtrack.start_run("team", name="victim", tags=[me])
        run.log({"x": 1.0})
        run.flush()
        print(run.id, flush=True)
        sys.stdin.readline()
    else:                                                  # watch the other's open run
        rid = order[1]
        print(nbtrack.get_run(rid)["status"], flush=True)
        sys.stdin.readline()                               # its process was killed
        t0, deadline = time.monotonic(), time.monotonic() + 60
        while nbtrack.get_run(rid)["status"] == "running" and time.monotonic() < deadline:
            time.sleep(0.1)                                # polling, as support.wait_for does
        print(nbtrack.get_run(rid)["status"], round(time.monotonic() - t0, 1), flush=True)
        frame = nbtrack.runs()
        print(json.dumps(sorted(frame["status"].to_list())), flush=True)
"""
RUNS, STEPS = 4, 500


def machine(name: str, tmp_path, env: dict) -> subprocess.Popen:
    home = tmp_path / name
    (home / "work").mkdir(parents=True)
    code = textwrap.dedent(MACHINE).replace("RUNS", str(RUNS)).replace("STEPS", str(STEPS))
    return subprocess.Popen(
        [sys.executable, "-c", code], cwd=home / "work", text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=child_environ(MACHINE=name, HOME=str(home), NBTRACK_SPOOL=str(home / "spool"),
                          XDG_CACHE_HOME=str(home / "cache"), **env))


def test_two_machines_log_into_one_bucket_lose_nothing_and_see_each_other_crash(
        down_store, tmp_path, monkeypatch):
    # shorter heartbeats, so that a dead writer is seen stale in seconds rather than a minute
    beats = {"NBTRACK_HEARTBEAT_EVERY": "0.5", "NBTRACK_STALE_AFTER": "3"}
    monkeypatch.setattr(liveness, "STALE_AFTER_S", 3.0)  # this reader too
    a, b = machine("machine-a", tmp_path, beats), machine("machine-b", tmp_path, beats)
    try:
        for proc in (a, b):
            say(proc, "go")
        made = {name: json.loads(read_line(p, timeout=120))
                for name, p in (("machine-a", a), ("machine-b", b))}
        say(a, "hold")
        victim = read_line(a)
        say(b, f"watch {victim}")
        assert read_line(b) == "running"  # seen from machine-b: machine-a's heartbeat
        os.kill(a.pid, signal.SIGKILL)
        a.wait(timeout=30)
        say(b, "killed")
        status, _seconds = read_line(b, timeout=90).split()
        assert status == "crashed"
        seen_by_b = json.loads(read_line(b))
        finish(b)
    finally:
        for proc in (a, b):
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
    assert seen_by_b == ["completed"] * (2 * RUNS) + ["crashed"]
    # names: both asked for "shared" each time; every run got its own, none twice
    names = [n for runs in made.values() for _, n in runs]
    assert sorted(names) == sorted(["shared"] + [f"shared-{i}" for i in range(2, 2 * RUNS + 1)])
    frame = nbtrack.runs()
    assert frame.height == 2 * RUNS + 1
    assert sorted(frame.filter(pl.col("name") != "victim")["host"].to_list()) == \
        ["machine-a"] * RUNS + ["machine-b"] * RUNS
    for host, runs in made.items():
        for run_id, name in runs:
            assert nbtrack.get_run(name)["run_id"] == run_id  # the name leads to its run
            assert nbtrack.get_run(run_id)["tags"] == [host]
    # every point of every run, once: nothing lost, nothing duplicated
    points = nbtrack.metrics([rid for runs in made.values() for rid, _ in runs])
    assert points.height == 2 * RUNS * STEPS * 2
    per_key = points.group_by("run_id", "key").agg(pl.col("step").sort())
    assert per_key.height == 2 * RUNS * 2
    assert all(steps == list(range(STEPS)) for steps in per_key["step"].to_list())
    assert nbtrack.get_run(victim)["status"] == "crashed"
    # the two machines shared nothing on disk but the bucket
    assert not list((tmp_path / "machine-a" / "spool").rglob("*.*"))


# ------------------------------------------------------------------ readable without nbtrack
def test_a_bucket_store_is_readable_with_plain_polars_and_obstore(down_store, spawn, tmp_path):
    (tmp_path / "model.pt").write_bytes(b"weights")
    with nbtrack.start_run("exp", name="one", params={"lr": 0.1}) as one:
        one.log({"loss": 1.0})
        one.flush()
        one.log({"loss": 0.5})
        one.log_artifact("model.pt")
    code = f"""
        import json, os, sys
        import obstore, polars as pl
        from obstore.store import S3Store
        url = {down_store!r}
        bucket, _, prefix = url[len("s3://"):].partition("/")
        store = S3Store(bucket, prefix=prefix, client_options={{"allow_http": True}})
        keys = [o["path"] for batch in obstore.list(store) for o in batch]
        metrics = [k for k in keys if k.startswith("runs/") and "/metrics/" in k]
        frame = pl.scan_ipc([f"{{url}}/{{k}}" for k in metrics]).collect()  # AWS_* variables
        events = [e["type"] for k in sorted(keys) if "/events/" in k
                  for e in json.loads(bytes(obstore.get(store, k).bytes()))]
        name = bytes(obstore.get(store, "names/one").bytes()).decode()
        marker = json.loads(bytes(obstore.get(store, "nbtrack-store.json").bytes()))
        assert "nbtrack" not in sys.modules
        print(json.dumps(dict(values=sorted(frame["value"].to_list()), events=events,
                              name=name, marker=marker, objects=[k for k in keys
                                                                 if k.startswith("objects/")])))
    """
    got = json.loads(finish(spawn(code)))
    assert got["values"] == [0.5, 1.0]
    assert got["events"][0] == "start" and got["events"][-1] == "status"
    assert got["name"] == one.id and got["marker"] == {"format": "nbtrack-store", "version": 2}
    digest = hashlib.sha256(b"weights").hexdigest()
    assert f"objects/sha256/{digest[:2]}/{digest[2:]}" in got["objects"]
