"""The store on a real S3-compatible server (moto on loopback) where a bucket differs from
a folder: the server going away mid-run (paused with SIGSTOP: connections hang, requests
time out), and what a bucket's objects look like to a reader without nbtrack."""

from __future__ import annotations

import json
import re

import pytest
from s3server import MotoServer

import nbtrack
from nbtrack.store.layout import as_root

from support import finish, read_line

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
        down_store, pausable, spawn):
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
    assert "nothing is lost" in warned[0]
    points = nbtrack.metrics([run_id])
    assert points["step"].to_list() == list(range(total))  # every point, once, in order
    assert points["value"].to_list() == [float(s) for s in range(total)]
    log = nbtrack.get_run(run_id)
    assert log["status"] == "completed" and log["params"] == {"lr": 0.1}


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
