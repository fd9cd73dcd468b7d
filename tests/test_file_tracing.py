"""Automatic file tracing (audit hooks): what a traced run's code reads and writes."""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from pathlib import Path

import polars as pl
import pytest

import nbtrack
from nbtrack.capture import files

from support import finish


def sha(data: bytes | str | Path) -> str:
    if isinstance(data, Path):
        data = data.read_bytes()
    if isinstance(data, str):
        data = data.encode()
    return hashlib.sha256(data).hexdigest()


def recorded(run, kind: str) -> list[tuple[str, str]]:
    """(path, sha256) of the run's inputs or outputs, in the order recorded."""
    log = nbtrack.get_run(getattr(run, "id", run), with_metrics=False)
    return [(x["path"], x["sha256"]) for x in log[kind]]


@pytest.fixture
def data():
    Path("data").mkdir()
    Path("data/raw.csv").write_text("x,y\n1,2\n")
    Path("notes.txt").write_text("hello")
    return Path("data/raw.csv")


@pytest.mark.backends  # a store in a bucket: tracing keeps no local store folder out
def test_plain_open_reads_and_writes_are_recorded(data, store):
    with nbtrack.start_run("t", trace_files=True) as run:
        assert files.tracing(run)
        with open("data/raw.csv") as f:
            rows = f.read().splitlines()
        with open("data/out.csv", "w") as f:
            f.write("\n".join(rows[:1]))
    assert not files.tracing(run)
    assert recorded(run, "inputs") == [("data/raw.csv", sha(data))]
    assert recorded(run, "outputs") == [("data/out.csv", sha("x,y"))]
    log = nbtrack.get_run(run.id)
    assert log["inputs"][0]["traced"] is True and log["inputs"][0]["stored"] is True
    # the content is kept in the store by hash, as use_input does
    stored = store / "objects" / "sha256" / sha(data)[:2] / sha(data)[2:]
    assert stored.read_bytes() == data.read_bytes()
    # and the runs are found by their files
    assert nbtrack.runs(where='inputs contains "data/raw.csv"')["run_id"].to_list() == [run.id]
    assert nbtrack.runs(where='outputs contains "out.csv"')["run_id"].to_list() == [run.id]


def test_pathlib_io_open_os_open_and_shutil_are_seen(data):
    with nbtrack.start_run("t", trace_files=True) as run:
        Path("notes.txt").read_text()
        Path("data/a.txt").write_text("A")
        with open("data/raw.csv", "rb") as f:  # io.open is the same function
            f.read()
        fd = os.open("data/b.bin", os.O_WRONLY | os.O_CREAT)
        os.write(fd, b"B")
        os.close(fd)
        shutil.copy("notes.txt", "data/notes-copy.txt")
    assert sorted(recorded(run, "inputs")) == [
        ("data/raw.csv", sha(data)), ("notes.txt", sha("hello"))]
    assert sorted(recorded(run, "outputs")) == [
        ("data/a.txt", sha("A")), ("data/b.bin", sha("B")), ("data/notes-copy.txt", sha("hello"))]


def test_the_store_vcs_caches_and_outside_files_are_never_traced(data, store, tmp_path_factory):
    outside = tmp_path_factory.mktemp("elsewhere") / "far.txt"
    outside.write_text("far")
    for folder in (".git", "__pycache__", "lib/site-packages", ".ipynb_checkpoints"):
        Path(folder).mkdir(parents=True)
        Path(folder, "f.txt").write_text("no")
    Path("helper.py").write_text("X = 1\n")
    with nbtrack.start_run("t", trace_files=True) as run:
        assert store.is_relative_to(Path.cwd())  # the store sits inside the traced tree
        for p in store.rglob("*.json"):
            p.read_bytes()
        outside.read_text()
        for folder in (".git", "__pycache__", "lib/site-packages", ".ipynb_checkpoints"):
            Path(folder, "f.txt").read_text()
            Path(folder, "g.txt").write_text("no")
        Path("helper.py").read_text()  # *.py is excluded by default
        run.log({"loss": 1.0})
        run.flush()  # the store writes while tracing
        data.read_text()
    assert recorded(run, "inputs") == [("data/raw.csv", sha(data))]
    assert recorded(run, "outputs") == []


def test_include_and_exclude_globs(data):
    Path("data/tmp.part").write_text("partial")
    Path("data/sub").mkdir()
    Path("data/sub/deep.csv").write_text("deep")
    options = {"include": ["data/"], "exclude": ["*.part"]}
    with nbtrack.start_run("t", trace_files=options) as run:
        for p in ("notes.txt", "data/raw.csv", "data/tmp.part", "data/sub/deep.csv"):
            Path(p).read_text()
        Path("top.txt").write_text("not in data/")
        Path("data/made.txt").write_text("in data/")
    assert sorted(p for p, _ in recorded(run, "inputs")) == ["data/raw.csv", "data/sub/deep.csv"]
    assert recorded(run, "outputs") == [("data/made.txt", sha("in data/"))]
    with nbtrack.start_run("t", trace_files={"include": "**/*.csv"}) as run2:
        Path("notes.txt").read_text()
        Path("data/raw.csv").read_text()
        Path("data/sub/deep.csv").read_text()
    assert sorted(p for p, _ in recorded(run2, "inputs")) == ["data/raw.csv", "data/sub/deep.csv"]


def test_writes_are_hashed_at_cell_end_and_each_new_content_is_a_version(data):
    run = nbtrack.start_run("t", trace_files=True)
    Path("model.bin").write_bytes(b"epoch 1")
    files.cell_finished()  # what the post_run_cell hook calls
    run.flush()
    assert recorded(run, "outputs") == [("model.bin", sha("epoch 1"))]
    files.cell_finished()  # nothing changed: nothing new
    Path("model.bin").write_bytes(b"epoch 2 weights")
    files.cell_finished()
    log = Path("train.log").open("w")  # kept open across cells, written without a new open
    log.write("step 1\n")
    log.flush()
    files.cell_finished()
    log.write("step 2\n")
    log.close()
    run.end()
    assert recorded(run, "outputs") == [
        ("model.bin", sha("epoch 1")),
        ("model.bin", sha("epoch 2 weights")),
        ("train.log", sha("step 1\n")),
        ("train.log", sha("step 1\nstep 2\n")),  # the run's end hashed it again
    ]


def test_read_then_rewritten_gives_input_before_and_output_after(data):
    before = data.read_bytes()
    Path("old.txt").write_text("old")
    with nbtrack.start_run("t", trace_files=True) as run:
        text = data.read_text()
        data.write_text(text + "5,6\n")  # cleaned in place
        data.read_text()  # the run's own output read back: not an input
        with open("notes.txt", "r+") as f:  # read and written through one handle
            f.read()
            f.write("!")
        with open("old.txt", "w+") as f:  # truncated on open: nothing of it is read
            f.write("fresh")
    assert recorded(run, "inputs") == [("data/raw.csv", sha(before)), ("notes.txt", sha("hello"))]
    assert recorded(run, "outputs") == [
        ("data/raw.csv", sha(before + b"5,6\n")), ("notes.txt", sha("hello!")),
        ("old.txt", sha("fresh"))]


def test_temporary_file_renamed_over_its_final_name(data):
    with nbtrack.start_run("t", trace_files=True) as run:
        Path("result.json.tmp").write_text('{"ok": true}')
        os.replace("result.json.tmp", "result.json")
        Path("scratch.txt").write_text("gone soon")
        os.remove("scratch.txt")
    assert recorded(run, "outputs") == [("result.json", sha('{"ok": true}'))]


def test_relative_paths_follow_chdir(data):
    Path("x.txt").write_text("top")
    Path("data/x.txt").write_text("below")
    with nbtrack.start_run("t", trace_files=True) as run:
        Path("x.txt").read_text()
        os.chdir("data")
        try:
            Path("x.txt").read_text()
            Path("y.txt").write_text("made below")
        finally:
            os.chdir("..")
    assert recorded(run, "inputs") == [("x.txt", sha("top")), ("data/x.txt", sha("below"))]
    assert recorded(run, "outputs") == [("data/y.txt", sha("made below"))]


def test_explicit_logging_is_not_recorded_twice(data):
    with nbtrack.start_run("t", trace_files=True) as run:
        run.use_input("data/raw.csv")
        Path("model.pt").write_bytes(b"w")
        run.log_artifact("model.pt")
    assert recorded(run, "inputs") == [("data/raw.csv", sha(data))]
    assert recorded(run, "outputs") == [("model.pt", sha("w"))]


def test_detach_stops_tracing_before_the_run_ends(data):
    with nbtrack.start_run("t", trace_files=True) as run:
        Path("early.txt").write_text("early")
        files.detach(run)
        assert not files.tracing(run)
        data.read_text()
        Path("late.txt").write_text("late")
        Path("early.txt").write_text("changed after detach")
    assert recorded(run, "inputs") == []
    assert recorded(run, "outputs") == [("early.txt", sha("early"))]


def test_big_files_are_hashed_but_not_stored(data, store):
    big = Path("data/big.bin")
    big.write_bytes(b"z" * 4096)
    with nbtrack.start_run("t", trace_files={"store_max_bytes": 1024}) as run:
        big.read_bytes()
        data.read_text()
    log = nbtrack.get_run(run.id)
    stored = {x["path"]: x["stored"] for x in log["inputs"]}
    assert stored == {"data/big.bin": False, "data/raw.csv": True}
    assert {x["sha256"] for x in log["inputs"]} == {sha(big), sha(data)}
    assert not (store / "objects" / "sha256" / sha(big)[:2] / sha(big)[2:]).exists()


def test_reads_from_threads_are_recorded_once_each(data):
    for i in range(8):
        Path(f"data/part-{i}.txt").write_text(f"part {i}" * (i + 1))
    with nbtrack.start_run("t", trace_files=True) as run:
        def work():
            for i in range(8):
                Path(f"data/part-{i}.txt").read_text()

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    got = recorded(run, "inputs")
    assert sorted(got) == sorted(
        (f"data/part-{i}.txt", sha(f"part {i}" * (i + 1))) for i in range(8))


def test_tracing_stops_when_the_run_ends_and_errors_still_reach_the_code(data, monkeypatch):
    with nbtrack.start_run("t", trace_files=True) as run:
        with pytest.raises(FileNotFoundError):
            open("data/missing.csv")
        with pytest.raises(IsADirectoryError):
            open("data")
    assert not files.tracing()
    calls = []
    monkeypatch.setattr(files, "_on_open", lambda *a: calls.append(a))
    data.read_text()
    Path("after.txt").write_text("x")
    assert calls == []  # with no traced run the hook returns before looking at the event
    assert recorded(run, "inputs") == [] and recorded(run, "outputs") == []


def test_traced_files_link_runs_in_lineage_across_a_rename(data):
    with nbtrack.start_run("etl", name="prepare", trace_files=True):
        rows = data.read_text().upper()
        Path("data/clean.csv").write_text(rows)
    os.rename("data/clean.csv", "data/train.csv")
    with nbtrack.start_run("model", name="train", trace_files=True) as train:
        Path("data/train.csv").read_text()
        Path("model.bin").write_bytes(b"weights")
    up = nbtrack.lineage(train).upstream()
    assert [r["name"] for r in up.runs] == ["prepare", "train"]
    assert nbtrack.lineage("model.bin").upstream().runs[-1]["name"] == "train"


def test_polars_reads_by_path_are_invisible_but_a_python_file_object_is_seen(data):
    """polars opens paths in Rust and pyarrow in C++ (no CPython ``open`` audit event);
    a file object handed to polars was opened by Python, so that one is seen."""
    Path("data/other.csv").write_text("a\n1\n")
    with nbtrack.start_run("t", trace_files=True) as run:
        assert pl.read_csv("data/raw.csv").shape == (1, 2)
        pl.DataFrame({"a": [1]}).write_csv("data/written-by-polars.csv")
        with open("data/other.csv", "rb") as f:
            assert pl.read_csv(f).shape == (1, 1)
        import pyarrow.csv  # C++ I/O: invisible the same way

        assert pyarrow.csv.read_csv("data/raw.csv").num_rows == 1
    assert recorded(run, "inputs") == [("data/other.csv", sha("a\n1\n"))]
    assert recorded(run, "outputs") == []


def test_a_plain_script_traces_and_records_writes_at_exit(data, spawn):
    proc = spawn(
        """
        import nbtrack, pathlib
        run = nbtrack.start_run("script", trace_files=True)
        text = open("data/raw.csv").read()
        pathlib.Path("summary.txt").write_text(str(len(text)))
        print(run.id)
        """
    )
    run_id = finish(proc).strip()
    log = nbtrack.get_run(run_id)
    assert log["status"] == "completed"
    assert [(x["path"], x["sha256"]) for x in log["inputs"]] == [("data/raw.csv", sha(data))]
    assert [(x["path"], x["sha256"]) for x in log["outputs"]] == [
        ("summary.txt", sha(str(len(data.read_text()))))]


def test_a_notebook_run_traces_its_cells_in_a_real_kernel(data, store, tmp_path):
    import sys

    from kernel import Kernel

    env = {"NBTRACK_HOME": str(store), "PYTHONPATH": os.pathsep.join(sys.path)}
    cells = [
        "%load_ext nbtrack",
        "%track start etl --trace-files",
        "rows = open('data/raw.csv').read().splitlines()",
        "from pathlib import Path\nPath('data/clean.csv').write_text(rows[0])",
        "%track stop",
        "%track lineage data/clean.csv",
    ]
    with Kernel(tmp_path, env) as k:
        results = [k.run(c) for c in cells]
    assert all(r.ok for r in results), [(r.ename, r.evalue) for r in results]
    (run,) = nbtrack.runs()["run_id"].to_list()
    assert recorded(run, "inputs") == [("data/raw.csv", sha(data))]
    assert recorded(run, "outputs") == [("data/clean.csv", sha("x,y"))]
    page = next(d["text/html"] for d in results[-1].data if "text/html" in d)
    assert "Lineage" in page and "data/clean.csv@" in page


def test_a_traced_read_named_with_use_input_is_one_input(store, tmp_path):
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    with nbtrack.start_run("dedupe", trace_files=True) as run:
        with open("data.csv") as f:
            f.read()
        nbtrack.use_input("data.csv", name="table", description="the only table")
    inputs = nbtrack.get_run(run.id)["inputs"]
    assert len(inputs) == 1
    assert inputs[0]["path"] == "data.csv" and inputs[0]["name"] == "table"
