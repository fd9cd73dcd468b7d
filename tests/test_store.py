"""The store's promises: where it lives, when data reaches disk, atomic immutable files,
many writers, compaction, corruption and crashes survived, readable without nbtrack."""

from __future__ import annotations

import json
import os
import signal
import types
import warnings
from contextlib import contextmanager
from pathlib import Path

import polars as pl
import pytest

import nbtrack
from nbtrack.errors import CorruptFileWarning
from nbtrack.store import index, liveness
from nbtrack.store import metric_files as mf
from nbtrack.store.arrow_io import key_rows
from nbtrack.store.layout import Layout, find_root

from support import copy_file, finish, open_arrow, overwrite, read_line, wait_for

pytestmark = pytest.mark.backends


def metric_files(store: Path, run_id: str) -> list[Path]:
    return sorted((store / "runs" / run_id / "metrics").glob("*.arrow"))


def all_files(store: Path) -> list[Path]:
    return [p for p in store.rglob("*") if p.is_file()]


@contextmanager
def no_corrupt_warnings():
    """A context in which a CorruptFileWarning fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", CorruptFileWarning)
        yield


def count_points(run_id: str) -> int:
    return nbtrack.metrics([run_id]).height


# ---------------------------------------------------------------- root discovery
def test_root_is_nbtrack_home_when_set(store):
    assert nbtrack.store_root() == str(store)
    with nbtrack.start_run("exp") as run:
        pass
    assert (store / "nbtrack-store.json").is_file()
    assert (store / "runs" / run.id).is_dir()
    assert json.loads((store / "nbtrack-store.json").read_text()) == {
        "format": "nbtrack-store", "version": 2,
    }


def _no_store_above(path: Path) -> None:
    for folder in path.parents:
        if (folder / ".nbtrack").is_dir():
            pytest.skip(f"a .nbtrack folder exists at {folder}, above the test's folder")


@pytest.mark.local_only("finds a local .nbtrack/ folder")
def test_root_is_the_nearest_nbtrack_folder_walking_up(tmp_path, monkeypatch):
    _no_store_above(tmp_path)
    monkeypatch.delenv("NBTRACK_HOME")
    (tmp_path / "proj" / ".nbtrack").mkdir(parents=True)
    (tmp_path / ".nbtrack").mkdir()  # further away: not chosen
    deep = tmp_path / "proj" / "notebooks" / "sub"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    assert find_root() == tmp_path / "proj" / ".nbtrack"
    assert nbtrack.store_root() == str(tmp_path / "proj" / ".nbtrack")
    with nbtrack.start_run("exp") as run:
        pass
    assert (tmp_path / "proj" / ".nbtrack" / "runs" / run.id).is_dir()
    assert not (deep / ".nbtrack").exists()


@pytest.mark.local_only("finds a local .nbtrack/ folder")
def test_root_defaults_to_dot_nbtrack_in_the_working_directory(tmp_path, monkeypatch):
    _no_store_above(tmp_path)
    monkeypatch.delenv("NBTRACK_HOME")
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    with nbtrack.start_run("exp") as run:
        pass
    assert (tmp_path / "work" / ".nbtrack" / "runs" / run.id).is_dir()
    assert nbtrack.runs()["run_id"].to_list() == [run.id]


def test_store_argument_overrides_discovery(tmp_path, store):
    other = tmp_path / "elsewhere"
    with nbtrack.start_run("exp", store=other) as run:
        run.log({"x": 1.0})
    with pytest.raises(nbtrack.errors.StoreError, match="no nbtrack store at"):
        nbtrack.runs()  # the discovered store was never made
    assert not store.exists()
    assert nbtrack.runs(store=other)["run_id"].to_list() == [run.id]
    assert nbtrack.metrics(store=other).height == 1


def test_a_newer_store_format_is_refused(store):
    store.mkdir()
    overwrite(store / "nbtrack-store.json", '{"format": "nbtrack-store", "version": 99}')
    with pytest.raises(nbtrack.errors.StoreError, match="upgrade"):
        nbtrack.start_run("exp")


# ---------------------------------------------------------------- when data reaches disk
WRITER_UNTIL_STDIN = """
    import sys, nbtrack
    run = nbtrack.start_run("exp")
    for i in range(10):
        run.log({"loss": float(i)})
    print(run.id, flush=True)
    sys.stdin.readline()
    run.end()
"""


def test_points_flush_on_an_interval_and_another_process_sees_them(spawn):
    proc = spawn(WRITER_UNTIL_STDIN)
    run_id = read_line(proc)
    wait_for(lambda: count_points(run_id) == 10, what="the writer's points to reach disk")
    frame = nbtrack.metrics([run_id])
    assert frame["value"].to_list() == [float(i) for i in range(10)]
    assert nbtrack.get_run(run_id)["status"] == "running"
    assert nbtrack.runs()["status"].to_list() == ["running"]
    proc.stdin.write("done\n")
    proc.stdin.flush()
    finish(proc)
    assert nbtrack.get_run(run_id)["status"] == "completed"


def test_flush_on_demand(spawn, store):
    code = """
        import sys, nbtrack
        run = nbtrack.start_run("exp")
        run.log({"loss": 1.0})
        run.log({"loss": 2.0})
        print(run.id, flush=True)
        sys.stdin.readline()
        run.flush()
        print("flushed", flush=True)
        sys.stdin.readline()
        run.end()
    """
    proc = spawn(code, env={"NBTRACK_FLUSH_INTERVAL": "3600"})  # the timer never fires
    run_id = read_line(proc)
    assert metric_files(store, run_id) == [] and count_points(run_id) == 0
    proc.stdin.write("flush\n")
    proc.stdin.flush()
    assert read_line(proc) == "flushed"
    assert count_points(run_id) == 2
    proc.stdin.write("end\n")
    proc.stdin.flush()
    finish(proc)


def test_end_flushes_everything_buffered(store):
    with nbtrack.start_run("exp") as run:
        for i in range(1000):
            run.log({"a": i, "b": -i})
    assert count_points(run.id) == 2000


def test_logging_while_the_flusher_runs_keeps_every_point_in_place(spawn):
    code = """
        import nbtrack
        with nbtrack.start_run("exp") as run:
            for step in range(60_000):
                run.log({"a": step, "b": -step, "c": step * 0.5})
        print(run.id)
    """
    run_id = finish(spawn(code, env={"NBTRACK_FLUSH_INTERVAL": "0.001"})).strip()
    frame = nbtrack.metrics([run_id])
    assert frame.height == 180_000
    wrong = frame.filter(
        ((pl.col("key") == "a") & (pl.col("value") != pl.col("step")))
        | ((pl.col("key") == "b") & (pl.col("value") != -pl.col("step")))
        | ((pl.col("key") == "c") & (pl.col("value") != pl.col("step") * 0.5))
    )
    assert wrong.height == 0
    for key in "abc":
        assert frame.filter(pl.col("key") == key)["step"].to_list() == list(range(60_000))


# ---------------------------------------------------------------- atomic, immutable files
def test_no_temporary_files_are_left_and_readers_ignore_dot_files(store, tmp_path):
    (tmp_path / "in.txt").write_text("x")
    with nbtrack.start_run("exp", params={"p": 1}) as run:
        for step in range(5):
            run.log({"loss": step / 10}, step=step)
            run.flush()
        run.use_input("in.txt")
        run.note("n")
    assert not [p for p in all_files(store) if p.name.startswith(".tmp-")]
    # what a killed writer can leave behind: half-written temporary files
    run_dir = store / "runs" / run.id
    for folder, name in [
        (run_dir / "metrics", ".tmp-deadbeef00-1795447075731377403-deadbeef00-000009.arrow"),
        (run_dir / "events", ".tmp-deadbeef00-1795447075731377403-deadbeef00-000010.json"),
        (store / "index", ".tmp-deadbeef00-1795447075731377403-deadbeef00-000011.json"),
        (store / "experiments", ".tmp-x.json"),
        (run_dir / "metrics", ".hidden.arrow"),
    ]:
        (folder).mkdir(parents=True, exist_ok=True)
        overwrite(folder / name, b"ARROW1\x00\x00half a fi")
    with no_corrupt_warnings():
        assert nbtrack.runs()["status"].to_list() == ["completed"]
        assert nbtrack.metrics()["value"].to_list() == [0.0, 0.1, 0.2, 0.3, 0.4]
        log = nbtrack.get_run(run.id)
        assert log["params"] == {"p": 1} and len(log["inputs"]) == 1
        nbtrack.experiments()


def test_every_flush_is_a_new_file_never_an_append(store):
    run = nbtrack.start_run("exp")
    run.log({"a": 1.0})
    run.flush()
    [first] = metric_files(store, run.id)
    before = first.read_bytes()
    run.log({"a": 2.0})
    run.flush()
    files = metric_files(store, run.id)
    assert len(files) == 2 and first in files
    assert first.read_bytes() == before
    run.end()


# ---------------------------------------------------------------- many writers at once
def test_many_processes_writing_one_store_lose_nothing(spawn):
    code = """
        import sys, nbtrack
        worker = int(sys.argv[1]) if len(sys.argv) > 1 else 0
        sys.stdin.readline()
        for r in range(8):
            with nbtrack.start_run("exp", tags=[f"w{WORKER}"], params={"r": r}) as run:
                for step in range(300):
                    run.log({"loss": WORKER * 1000 + step, "acc": step / 300})
                    if step % 50 == 49:
                        run.flush()
                run.note(f"worker {WORKER} run {r}")
    """
    procs = [spawn(code.replace("WORKER", str(w))) for w in range(4)]
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    for p in procs:
        finish(p)
    frame = nbtrack.runs()
    assert frame.height == 32
    assert frame["status"].to_list() == ["completed"] * 32
    points = nbtrack.metrics()
    assert points.height == 32 * 300 * 2
    per_run = points.group_by("run_id").len()
    assert per_run["len"].to_list() == [600] * 32
    for w in range(4):
        mine = nbtrack.runs(tags=f"w{w}")
        assert mine.height == 8
        assert sorted(mine["params.r"]) == list(range(8))
        loss = nbtrack.metrics(mine, keys="loss")
        assert sorted(set(loss["value"])) == [float(w * 1000 + s) for s in range(300)]
        assert mine["metrics.loss"].to_list() == [float(w * 1000 + 299)] * 8


def test_subprocesses_logging_into_one_run_lose_nothing(spawn):
    code = """
        import sys, nbtrack
        sys.stdin.readline()
        for step in range(400):
            nbtrack.log({"kKEY": step})
            if step % 100 == 99:
                nbtrack.active_run().flush()
    """
    run = nbtrack.start_run("exp")
    env = nbtrack.child_env(run)
    procs = [spawn(code.replace("KEY", str(k)), env=env) for k in range(3)]
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    for step in range(400):
        run.log({"parent": step})
        if step % 100 == 99:
            run.flush()
    for p in procs:
        finish(p)
    run.end()
    frame = nbtrack.metrics(run)
    counts = dict(frame.group_by("key").len().iter_rows())
    assert counts == {"parent": 400, "k0": 400, "k1": 400, "k2": 400}
    for key in counts:
        assert frame.filter(pl.col("key") == key)["step"].sort().to_list() == list(range(400))
    assert nbtrack.get_run(run.id)["status"] == "completed"


def test_child_env_lets_a_subprocess_log_into_the_run(spawn, store):
    code = """
        import nbtrack
        nbtrack.log(loss=1.5, step=7)
        nbtrack.log_params({"from_child": True})
        nbtrack.add_tags("child")
        print(nbtrack.active_run().id)
    """
    with nbtrack.start_run("exp") as run:
        env = nbtrack.child_env(run)
        assert env == {"NBTRACK_RUN_ID": run.id, "NBTRACK_HOME": str(store)}
        out = finish(spawn(code, env=env))
        assert out.strip() == run.id
        assert nbtrack.get_run(run.id)["status"] == "running"  # the child did not end it
        run.log({"loss": 1.0}, step=8)
    points = nbtrack.metrics(run)
    assert sorted(zip(points["step"], points["value"], strict=True)) == [(7, 1.5), (8, 1.0)]
    log = nbtrack.get_run(run.id)
    assert log["params"] == {"from_child": True} and log["tags"] == ["child"]
    assert log["status"] == "completed"
    assert nbtrack.runs()["metrics.loss"].to_list() == [1.0]


# ---------------------------------------------------------------- compaction
def test_compaction_at_run_end_leaves_one_file_with_every_point(store):
    run = nbtrack.start_run("exp")
    for chunk in range(6):
        for i in range(100):
            run.log({"loss": chunk * 100 + i, f"k{chunk}": i})
        run.flush()
    assert len(metric_files(store, run.id)) == 6
    kept = store / "kept"
    kept.mkdir()
    for p in metric_files(store, run.id):
        copy_file(p, kept / p.name)
    run.end()
    [compact] = metric_files(store, run.id)
    assert ".compact" in compact.name
    table = open_arrow(compact).read_all()
    assert table.num_rows == 1200
    pairs = list(zip(table.column("key").to_pylist(), table.column("value").to_pylist(),
                     strict=True))
    # grouped by key, in log order within each key; the footer says where each key's rows are
    assert pairs[:3] == [("loss", 0.0), ("loss", 1.0), ("loss", 2.0)]
    rows = key_rows(compact)
    assert rows["loss"] == (0, 600) and sorted(rows) == ["k0", "k1", "k2", "k3", "k4", "k5", "loss"]
    for key, (lo, hi) in rows.items():
        assert set(table.column("key").to_pylist()[lo:hi]) == {key} and hi - lo == (600 if key == "loss" else 100)
    assert all(len(set(b.column(1).to_pylist())) == 1 for b in table.to_batches())  # no batch spans two keys
    frame = nbtrack.metrics(run, keys="loss")
    assert frame["value"].to_list() == [float(i) for i in range(600)]
    # a crash between writing the compact file and deleting its inputs double-counts nothing
    for p in kept.iterdir():
        copy_file(p, compact.parent / p.name)
    assert len(metric_files(store, run.id)) == 7
    assert nbtrack.metrics(run).height == 1200
    assert nbtrack.get_run(run.id)["metrics"]["loss"]["values"] == [float(i) for i in range(600)]


def test_index_compaction_keeps_every_run(store):
    made = []
    for i in range(70):  # two index rows per run: compaction kicks in past 128 files
        with nbtrack.start_run("exp", tags=["even"] if i % 2 == 0 else []) as run:
            run.log({"i": i})
        made.append(run.id)
    nbtrack.open_run(made[0]).archive()
    files = [p for p in (store / "index").iterdir() if not p.name.startswith(".")]
    assert any(".compact" in p.name for p in files)
    assert len(files) < 128
    frame = nbtrack.runs(include_archived=True, sort="started")
    assert frame["run_id"].to_list() == made
    assert frame["status"].to_list() == ["completed"] * 70
    assert frame["metrics.i"].to_list() == [float(i) for i in range(70)]
    assert frame["archived"].to_list() == [True] + [False] * 69
    assert nbtrack.runs(tags="even").height == 34
    before = index.read_rows(Layout(store))
    assert index.compact(Layout(store)) is not None  # explicit compaction: same rows
    assert index.read_rows(Layout(store)) == before  # every field of a row survives
    left = list((store / "index").iterdir())  # merged in tiers: a few compact files
    assert left and all(".compact" in p.name for p in left) and len(left) < index.COMPACT_TIER
    assert nbtrack.runs(include_archived=True, sort="started")["run_id"].to_list() == made


def test_a_reader_racing_an_index_compaction_misses_no_run(store, monkeypatch):
    for _ in range(5):
        with nbtrack.start_run("exp"):
            pass
    layout = Layout(store)
    real_read = index.read_file

    def read_while_another_process_compacts(path):
        # between this reader's listing and its reads, a writer compacts the index
        monkeypatch.setattr(index, "read_file", real_read)
        index.compact(layout)
        return real_read(path)

    monkeypatch.setattr(index, "read_file", read_while_another_process_compacts)
    assert nbtrack.runs().height == 5


def test_a_reader_racing_a_metrics_compaction_misses_no_point(store, monkeypatch):
    from nbtrack.query import metrics as metrics_query

    run = nbtrack.start_run("exp")
    for i in range(4):
        run.log({"loss": i})
        run.flush()
    stale = metrics_query.files_for(Layout(store), [run.id])
    run.end()  # compaction replaces the four segments the reader listed
    real = metrics_query.files_for
    listings = []

    def listed_before_the_compaction(layout, run_ids):
        listings.append(run_ids)
        return stale if len(listings) == 1 else real(layout, run_ids)

    monkeypatch.setattr(metrics_query, "files_for", listed_before_the_compaction)
    assert nbtrack.metrics(run)["value"].to_list() == [0.0, 1.0, 2.0, 3.0]


# ---------------------------------------------------------------- corruption
def three_runs():
    made = []
    for name in ("r-a", "r-b", "r-c"):
        with nbtrack.start_run("exp", name=name, params={"who": name}) as run:
            run.log({"loss": 1.0}, step=0)
            run.flush()
            run.log({"loss": 0.5}, step=1)
        made.append(run)
    return made


def readable_except(bad_run, others):
    frame = nbtrack.runs()
    assert {r.id for r in others} <= set(frame["run_id"])
    for r in others:
        log = nbtrack.get_run(r.id)
        assert log["status"] == "completed" and log["params"] == {"who": r.name}
        assert log["metrics"]["loss"]["values"] == [1.0, 0.5]
    points = nbtrack.metrics([r.id for r in others])
    assert points.height == 2 * len(others)
    nbtrack.get_run(bad_run.id)  # the damaged run itself is still reachable


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_metrics_file_is_skipped_with_a_warning(store, damage):
    a, b, c = three_runs()
    [bad] = metric_files(store, b.id)
    data = bad.read_bytes()
    overwrite(bad, {"truncate": data[: len(data) // 2], "garbage": os.urandom(len(data)),
                    "empty": b""}[damage])
    with pytest.warns(CorruptFileWarning, match=bad.name):
        everything = nbtrack.metrics()
    assert set(everything["run_id"]) == {a.id, c.id} and everything.height == 4
    readable_except(b, [a, c])
    assert nbtrack.get_run(b.id)["metrics"] == {}
    assert nbtrack.runs().height == 3


@pytest.mark.parametrize("which", [0, -1])
def test_corrupt_events_file_is_skipped_with_a_warning(store, which):
    a, b, c = three_runs()
    events = sorted((store / "runs" / b.id / "events").glob("*.json"))
    bad = events[which]
    overwrite(bad, bad.read_bytes()[:-7])
    with pytest.warns(CorruptFileWarning, match=bad.name):
        nbtrack.get_run(b.id)
    readable_except(b, [a, c])


def test_corrupt_index_json_is_skipped_with_a_warning(store):
    a, b, c = three_runs()
    rows = sorted((store / "index").glob("*.json"))
    mine = [p for p in rows if json.loads(p.read_text())["run_id"] == b.id]
    for p in mine:
        overwrite(p, '{"run_id": "' + b.id)
    with pytest.warns(CorruptFileWarning, match="|".join(p.name for p in mine)):
        frame = nbtrack.runs()
    assert set(frame["run_id"]) == {a.id, b.id, c.id}  # b is rebuilt from its own records
    assert frame.filter(pl.col("run_id") == b.id)["status"].to_list() == ["completed"]
    readable_except(b, [a, c])


def test_corrupt_index_compact_file_is_skipped_and_no_run_disappears(store):
    a, b, c = three_runs()
    compact = index.compact(Layout(store))
    assert compact is not None and ".compact" in compact.name
    overwrite(compact, compact.read_bytes()[:100])
    with pytest.warns(CorruptFileWarning, match=compact.name):
        frame = nbtrack.runs()
    assert set(frame["run_id"]) == {a.id, b.id, c.id}
    assert frame["status"].to_list() == ["completed"] * 3
    assert sorted(frame["metrics.loss"]) == [0.5] * 3
    readable_except(b, [a, c])


def test_corrupt_store_marker_is_skipped_with_a_warning(store):
    a, b, c = three_runs()
    marker = store / "nbtrack-store.json"
    overwrite(marker, '{"format": "nbtr')
    nbtrack.active._layouts.clear()  # as a fresh process would see it
    with pytest.warns(CorruptFileWarning, match="nbtrack-store.json"):
        frame = nbtrack.runs()
    assert frame.height == 3
    readable_except(b, [a, c])
    assert marker.read_text() == '{"format": "nbtr'  # left for a person to look at


# ---------------------------------------------------------------- crashes
KILLED_WRITER = """
    import time, nbtrack
    run = nbtrack.start_run("exp", params={"lr": 0.1})
    for i in range(100):
        run.log({"loss": float(i)})
    run.flush()
    for i in range(5):
        run.log({"loss": -1.0})  # never flushed: lost with the process
    print(run.id, "ready", flush=True)
    while True:
        time.sleep(1)
"""


def kill9(proc) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def test_killed_writer_reads_as_crashed_and_keeps_flushed_points(spawn):
    proc = spawn(KILLED_WRITER, env={"NBTRACK_FLUSH_INTERVAL": "3600"})
    run_id, word = read_line(proc).split()
    assert word == "ready"
    assert nbtrack.runs()["status"].to_list() == ["running"]
    kill9(proc)
    frame = nbtrack.runs()
    assert frame["status"].to_list() == ["crashed"]
    assert frame["ended"].to_list() == [None]
    assert frame["metrics.loss"].to_list() == [99.0]
    assert nbtrack.runs(status="running").height == 0
    assert nbtrack.runs(status="crashed")["run_id"].to_list() == [run_id]
    log = nbtrack.get_run(run_id)
    assert log["status"] == "crashed" and log["status_history"][-1]["status"] == "crashed"
    assert "died" in log["message"]
    assert log["params"] == {"lr": 0.1}
    assert log["metrics"]["loss"]["values"] == [float(i) for i in range(100)]
    assert nbtrack.experiments()["crashed"].to_list() == [1]
    json.dumps(log)


def test_a_writer_on_another_host_is_crashed_once_its_heartbeat_is_stale(spawn, monkeypatch,
                                                                         store, backend):
    proc = spawn(KILLED_WRITER)
    run_id, _ = read_line(proc).split()
    alive_dir = store / "runs" / run_id / "alive"
    wait_for(lambda: alive_dir.is_dir() and list(alive_dir.glob("*.json")),
             what="the writer's heartbeat file")
    kill9(proc)
    # seen from another machine the pid means nothing: only the heartbeat file counts
    monkeypatch.setattr(liveness, "hostname", lambda: "some-other-host")
    [alive] = (store / "runs" / run_id / "alive").glob("*.json")
    assert nbtrack.get_run(run_id)["status"] == "running"  # heartbeat still fresh
    if backend == "s3":  # a bucket's object has the server's time: let the reader's clock run
        real_time = liveness.time.time
        monkeypatch.setattr(liveness, "time", types.SimpleNamespace(
            time=lambda: real_time() + liveness.STALE_AFTER_S + 5))
    else:
        stale = alive.stat().st_mtime - liveness.STALE_AFTER_S - 5
        os.utime(alive, (stale, stale))
    assert nbtrack.get_run(run_id)["status"] == "crashed"
    assert nbtrack.runs()["status"].to_list() == ["crashed"]


def test_kill_during_heavy_writing_leaves_a_readable_store(spawn, store):
    code = """
        import nbtrack
        n = 0
        while True:
            with nbtrack.start_run("exp") as run:
                for step in range(200):
                    run.log({"loss": step, "acc": step})
                    if step % 40 == 39:
                        run.flush()
            n += 1
            if n == 3:
                print("ready", flush=True)
    """
    for _ in range(3):
        proc = spawn(code, env={"NBTRACK_FLUSH_INTERVAL": "0.002"})
        assert read_line(proc) == "ready"
        kill9(proc)
    with no_corrupt_warnings():
        frame = nbtrack.runs()
        assert frame.height >= 9
        assert set(frame["status"]) <= {"completed", "crashed"}
        assert frame["status"].to_list().count("crashed") <= 3
        done = frame.filter(pl.col("status") == "completed")
        counts = nbtrack.metrics(done).group_by("run_id").len()["len"].to_list()
        assert counts == [400] * done.height  # compaction never double-counts or drops
        for rid in frame["run_id"]:
            nbtrack.get_run(rid)


# ---------------------------------------------------------------- readable without nbtrack
@pytest.mark.local_only("reads the folder with glob and open (test_s3_store.py reads a bucket "
                        "with polars and obstore alone)")
def test_store_is_readable_with_plain_polars_pyarrow_and_json(spawn, store, tmp_path):
    (tmp_path / "model.pt").write_bytes(b"weights")
    with nbtrack.start_run("exp", name="one", params={"lr": 0.1}) as one:
        one.log({"loss": 1.0})
        one.flush()
        one.log({"loss": 0.5})  # two segments, compacted at the end
        one.log_artifact("model.pt")
    with nbtrack.start_run("exp", name="two") as two:
        two.log({"acc": 0.9}, step=3)  # one segment, left as it is
    code = f"""
        import glob, json, os, sys
        import polars as pl
        import pyarrow.ipc
        root = {str(store)!r}
        files = sorted(glob.glob(os.path.join(root, "runs", "*", "metrics", "*.arrow")))
        frame = pl.scan_ipc(files).collect().with_columns(pl.col("run_id", "key").cast(pl.String))
        rows = sorted(frame.select("run_id", "key", "step", "value").iter_rows())
        for f in files:
            pyarrow.ipc.open_file(f).read_all().validate(full=True)
        events = {{}}
        for f in sorted(glob.glob(os.path.join(root, "runs", "*", "events", "*.json"))):
            with open(f) as fh:
                for ev in json.load(fh):
                    events.setdefault(f.split(os.sep)[-3], []).append(ev["type"])
        index_rows = []
        for f in glob.glob(os.path.join(root, "index", "*.json")):
            with open(f) as fh:
                index_rows.append(json.load(fh))
        with open(os.path.join(root, "names", "one")) as fh:
            name_one = fh.read()
        objects = sorted(p[len(root):] for p in glob.glob(os.path.join(root, "objects", "sha256", "*", "*")))
        with open(os.path.join(root, "nbtrack-store.json")) as fh:
            marker = json.load(fh)
        assert "nbtrack" not in sys.modules
        print(json.dumps(dict(columns=frame.columns, rows=rows, events=events, marker=marker,
                              index=[(r["run_id"], r["status"]) for r in index_rows],
                              name_one=name_one, objects=objects)))
    """
    got = json.loads(finish(spawn(code)))
    assert got["columns"] == ["run_id", "key", "step", "value", "time"]
    assert sorted(map(tuple, got["rows"])) == sorted(
        [(one.id, "loss", 0, 1.0), (one.id, "loss", 1, 0.5), (two.id, "acc", 3, 0.9)]
    )
    assert got["events"][one.id][0] == "start" and got["events"][one.id][-1] == "status"
    assert "params" in got["events"][one.id] and "artifact" in got["events"][one.id]
    assert got["marker"] == {"format": "nbtrack-store", "version": 2}
    assert (one.id, "completed") in map(tuple, got["index"])
    assert got["name_one"] == one.id
    import hashlib

    digest = hashlib.sha256(b"weights").hexdigest()
    assert f"/objects/sha256/{digest[:2]}/{digest[2:]}" in got["objects"]


SEGMENT = r"\d{19}-[0-9a-f]{10}-\d{6}(\.compact\d+-[0-9a-f]{10}-\d{6})?\.crc32-[0-9a-f]{8}"


def test_layout_is_as_documented(store, backend):
    """The folders, names and schema that ``nbtrack/store/layout.py`` and
    ``docs/store-format.md`` promise to other tools."""
    import re

    run = nbtrack.start_run("exp", name="documented")
    run.log({"loss": 1.0})
    run.flush()
    alive_dir = store / "runs" / run.id / "alive"
    alive = wait_for(lambda: alive_dir.is_dir() and list(alive_dir.iterdir()),
                     what="the heartbeat file")  # written by the flusher thread
    # on disk one file whose mtime is touched; in a bucket one new object per beat
    beat = r"[0-9a-f]{10}-\d{19}\.json" if backend == "s3" else r"[0-9a-f]{10}\.json"
    assert len(alive) == 1 and re.fullmatch(beat, alive[0].name)
    owner = json.loads(alive[0].read_text())
    assert owner["pid"] == os.getpid() and owner["host"]
    run.log({"loss": 0.5})
    run.end()
    nbtrack.experiment("exp").set_description("d")
    assert list((store / "runs" / run.id / "alive").glob("*.json")) == []  # gone at the end
    for folder, suffix in [
        (store / "runs" / run.id / "events", "json"),
        (store / "runs" / run.id / "metrics", "arrow"),
        (store / "index", "json"),
        (store / "experiments", "json"),
    ]:
        names = [p.name for p in folder.iterdir()]
        assert names, folder
        assert all(re.fullmatch(rf"{SEGMENT}\.{suffix}", n) for n in names), names
    assert (store / "names" / "documented").read_text() == run.id
    [metrics_file] = (store / "runs" / run.id / "metrics").iterdir()
    schema = open_arrow(metrics_file).schema
    assert [(f.name, str(f.type)) for f in schema] == [
        ("run_id", "large_string"),
        ("key", "dictionary<values=string, indices=int32, ordered=0>"),
        ("step", "int64"),
        ("value", "double"),
        ("time", "timestamp[ms, tz=UTC]"),
    ]
    events = [ev for p in sorted((store / "runs" / run.id / "events").iterdir())
              for ev in json.loads(p.read_text())]
    assert {"type", "t"} <= set(events[0]) and events[0]["type"] == "start"
    assert events[0]["run_id"] == run.id and events[0]["experiment"] == "exp"
    assert events[-1]["type"] == "status" and events[-1]["status"] == "completed"


def test_a_long_run_merges_its_flush_segments_as_it_goes(store, monkeypatch):
    from nbtrack import run as run_module

    monkeypatch.setattr(run_module, "COMPACT_EVERY", 4)
    monkeypatch.setattr(run_module, "MERGE_AFTER_S", 0.0)
    run = nbtrack.start_run("long")
    for flush in range(33):
        run.log({"loss": float(flush)}, step=flush)
        run.flush()
        files = metric_files(store, run.id)
        # never more than one merge's worth of small files, plus a few merged ones
        assert len([p for p in files if ".compact" not in p.name]) < 4
        assert len([p for p in files if ".compact" in p.name]) <= 8
    # a reader of the running run sees every point once, in the order logged
    assert nbtrack.metrics(run)["value"].to_list() == [float(i) for i in range(33)]
    assert nbtrack.get_run(run.id)["metrics"]["loss"]["steps"] == list(range(33))
    run.end()
    assert len(metric_files(store, run.id)) == 1
    assert nbtrack.metrics(run)["value"].to_list() == [float(i) for i in range(33)]


def test_a_reader_outrun_by_merges_again_and_again_still_misses_no_point(store, monkeypatch):
    """However many times a writer merges a run's files under a reader, the reader lists
    again and reads every point (it used to give up after five tries and return none)."""
    from nbtrack.query import metrics as metrics_query

    run = nbtrack.start_run("exp")
    for i in range(4):
        run.log({"loss": i})
        run.flush()
    stale = metrics_query.files_for(Layout(store), [run.id])
    run.end()  # merged: the listing above names files that are gone
    real = metrics_query.files_for
    calls = []

    def outrun(layout, run_ids):
        calls.append(run_ids)
        return stale if len(calls) <= 8 else real(layout, run_ids)

    monkeypatch.setattr(metrics_query, "files_for", outrun)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CorruptFileWarning)
        assert nbtrack.metrics(run)["value"].to_list() == [0.0, 1.0, 2.0, 3.0]
    assert len(calls) == 9


def test_merging_a_compact_file_also_replaces_the_inputs_it_left_behind(store):
    """A crash between a merge's commit and its deletes leaves inputs beside the compact
    file; a later merge of that compact file must take them with it, or they would count
    twice once it is gone (found by stress/kills.py: the tidy sweep added 1,400 points)."""
    run = nbtrack.start_run("exp")
    for i in range(3):
        run.log({"loss": float(i)}, step=i)
        run.flush()
    kept = [(p.name, p.read_bytes()) for p in metric_files(store, run.id)]
    compact = mf.compact(Layout(store), run.id)
    for name, data in kept:  # the deletes never happened
        overwrite(compact.parent / name, data)
    run.log({"loss": 3.0}, step=3)
    run.end()  # merges the compact file with the new segment
    assert nbtrack.metrics(run)["value"].to_list() == [0.0, 1.0, 2.0, 3.0]
    assert len(metric_files(store, run.id)) == 1
    assert nbtrack.metrics(run)["step"].to_list() == [0, 1, 2, 3]


def test_merging_index_compacts_also_replaces_the_rows_they_left_behind(store, monkeypatch):
    monkeypatch.setattr(index, "COMPACT_TIER", 2)
    layout = Layout(store)
    for _ in range(3):
        with nbtrack.start_run("exp"):
            pass
    smalls = [(p.name, p.read_bytes()) for p in (store / "index").glob("*.json")]
    first = index.compact(layout)
    for name, data in smalls:
        overwrite(store / "index" / name, data)
    with nbtrack.start_run("exp"):
        pass
    index.compact(layout)  # a level-1 file from the new rows, then both merged into level 2
    left = sorted(p.name for p in (store / "index").iterdir())
    assert first.name not in left and not any(name in left for name, _ in smalls), left
    assert nbtrack.runs().height == 4
