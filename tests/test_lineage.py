"""Lineage: file versions by content, runs linked through the files they made and used."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import polars as pl
import pytest

import nbtrack
from nbtrack.query.lineage import LineageTargetError

pytestmark = pytest.mark.backends


def sha(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def write(path: str, text: str) -> str:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return path


@pytest.fixture
def chain():
    """raw -> prepare -> (rename clean.csv to train.csv) -> train -> evaluate."""
    write("data/raw.csv", "x,y\n1,2\n3,4\n")
    with nbtrack.start_run("etl", name="prepare") as prepare:
        rows = Path(prepare.use_input("data/raw.csv")).read_text().splitlines()
        write("data/clean.csv", "\n".join(rows[:2]) + "\n")
        prepare.log_output("data/clean.csv")
    os.replace("data/clean.csv", "data/train.csv")  # renamed between runs
    with nbtrack.start_run("model", name="train") as train:
        train.log_dataset("train-v1", "data/train.csv", "cleaned rows")
        write("model.pt", "weights-1")
        train.log_artifact("model.pt", artifact_path="checkpoints/")
    with nbtrack.start_run("model", name="evaluate") as evaluate:
        evaluate.use_input("model.pt")
        evaluate.use_input("data/raw.csv")
        write("report.json", '{"acc": 0.9}')
        evaluate.log_output("report.json")
    return prepare, train, evaluate


def names(lin) -> list[str]:
    return [r["name"] for r in lin.runs]


def test_run_upstream_crosses_a_rename(chain):
    prepare, train, evaluate = chain
    up = nbtrack.lineage(train).upstream()
    assert names(up) == ["prepare", "train"]
    assert prepare.id in up and "prepare" in up
    clean = up.files[[f["sha256"] for f in up.files].index(sha("data/train.csv"))]
    assert clean["paths"] == ["data/clean.csv", "data/train.csv"]  # one node, both names
    raw = sha("data/raw.csv")
    assert raw in up  # prepare's input comes with it
    assert evaluate.id not in up
    assert "data/clean.csv" in up and Path("data/train.csv") in up and "report.json" not in up
    text = repr(up)  # each run lists a file under the name it used
    assert f"produced  data/clean.csv@{sha('data/train.csv')[:12]}" in text
    assert f"used      data/train.csv@{sha('data/train.csv')[:12]}" in text


def test_run_downstream_and_both(chain):
    prepare, train, evaluate = chain
    down = nbtrack.lineage("prepare").downstream()
    assert names(down) == ["prepare", "train", "evaluate"]
    assert sha("report.json") in down
    both = nbtrack.lineage(train.id)
    assert names(both) == ["prepare", "train", "evaluate"]
    by_id = {n["id"]: n["distance"] for n in both.nodes}
    assert by_id[prepare.id] == -1 and by_id[train.id] == 0 and by_id[evaluate.id] == 1


def test_depth_counts_runs(chain):
    prepare, train, evaluate = chain
    assert names(nbtrack.lineage("report.json", direction="upstream", depth=0)) == []
    assert names(nbtrack.lineage("report.json", direction="upstream", depth=1)) == ["evaluate"]
    two = nbtrack.lineage("report.json", direction="upstream", depth=2)
    assert names(two) == ["train", "evaluate"]
    assert sha("data/train.csv") in two and prepare.id not in two  # train's input, not its maker
    assert names(nbtrack.lineage("report.json", direction="upstream", depth=3)) == [
        "prepare", "train", "evaluate"]
    one = nbtrack.lineage(evaluate, depth=1, direction="upstream")
    assert names(one) == ["train", "evaluate"]  # prepare is two runs away
    assert names(one.upstream(depth=None)) == ["prepare", "train", "evaluate"]
    with pytest.raises(ValueError, match="depth"):
        nbtrack.lineage(evaluate, depth=-1)
    with pytest.raises(ValueError, match="direction"):
        nbtrack.lineage(evaluate, direction="sideways")


def test_file_target_names_its_producer_and_consumers(chain):
    prepare, train, evaluate = chain
    lin = nbtrack.lineage("model.pt")
    assert lin.targets == [sha("model.pt")]
    edges = {(e["source"], e["target"], e["relation"]) for e in lin.edges}
    assert (train.id, sha("model.pt"), "produced") in edges
    assert (sha("model.pt"), evaluate.id, "used_by") in edges
    assert names(lin.upstream(depth=1)) == ["train"]
    assert names(lin.downstream(depth=1)) == ["evaluate"]
    # the same version by its sha256 and by a short prefix of it
    assert nbtrack.lineage(sha("model.pt")).targets == lin.targets
    assert nbtrack.lineage(sha("model.pt")[:10]).targets == lin.targets
    # a path that no longer exists is found by what runs recorded under it
    assert nbtrack.lineage("data/clean.csv").targets == [sha("data/train.csv")]


def test_copies_are_one_node_and_a_copy_on_disk_is_found_by_content(chain):
    prepare, train, evaluate = chain
    Path("elsewhere").mkdir()
    Path("elsewhere/weights.bin").write_bytes(Path("model.pt").read_bytes())
    lin = nbtrack.lineage("elsewhere/weights.bin")  # never recorded under this name
    assert lin.targets == [sha("model.pt")]
    assert names(lin.upstream()) == ["prepare", "train"]
    with nbtrack.start_run("copies") as twice:
        twice.use_input("model.pt")
        twice.use_input("elsewhere/weights.bin")
    lin = nbtrack.lineage(twice, direction="upstream", depth=0)
    assert len(lin.files) == 1
    assert sorted(lin.files[0]["paths"]) == ["elsewhere/weights.bin", "model.pt"]
    (edge,) = [e for e in lin.edges if e["target"] == twice.id]
    assert sorted(edge["paths"]) == ["elsewhere/weights.bin", "model.pt"]


def test_overwritten_file_is_a_new_version_with_its_own_producer():
    write("data/features.csv", "version one\n")
    with nbtrack.start_run("feat", name="make-v1") as v1:
        v1.log_output("data/features.csv")
    first = sha("data/features.csv")
    with nbtrack.start_run("fit", name="fit-v1") as fit1:
        fit1.use_input("data/features.csv")
    write("data/features.csv", "version two, longer\n")  # overwritten in place
    with nbtrack.start_run("feat", name="make-v2") as v2:
        v2.log_output("data/features.csv")
    second = sha("data/features.csv")
    with nbtrack.start_run("fit", name="fit-v2") as fit2:
        fit2.use_input("data/features.csv")
    assert first != second

    now = nbtrack.lineage("data/features.csv")  # the content on disk now: version two
    assert now.targets == [second]
    assert names(now) == ["make-v2", "fit-v2"]
    old = nbtrack.lineage(first)
    assert names(old) == ["make-v1", "fit-v1"]
    every = nbtrack.lineage("data/features.csv", all_versions=True)
    assert every.targets == [first, second]
    assert names(every) == ["make-v1", "fit-v1", "make-v2", "fit-v2"]
    assert names(nbtrack.lineage(fit2).upstream()) == ["make-v2", "fit-v2"]
    assert v1.id not in nbtrack.lineage(fit2)
    # the file changed again and no run recorded it: every recorded version is shown
    write("data/features.csv", "version three\n")
    assert nbtrack.lineage("data/features.csv").targets == [first, second]


def test_runs_where_finds_runs_by_files(chain):
    prepare, train, evaluate = chain
    found = nbtrack.runs(where='inputs contains "data/train.csv"')
    assert found["name"].to_list() == ["train"]
    found = nbtrack.runs(where='input contains "raw.csv"', sort="started")
    assert found["name"].to_list() == ["prepare", "evaluate"]
    found = nbtrack.runs(where='outputs contains "model.pt"')
    assert found["name"].to_list() == ["train"]
    found = nbtrack.runs(where=f'input_sha256 contains "{sha("model.pt")}"')
    assert found["name"].to_list() == ["evaluate"]


def test_to_polars_frames(chain):
    prepare, train, evaluate = chain
    nodes, edges = nbtrack.lineage(train).to_polars()
    assert nodes.columns[:5] == ["id", "kind", "label", "distance", "is_target"]
    assert nodes.schema["started"] == pl.Datetime("us", "UTC")
    assert nodes.filter(pl.col("kind") == "run")["name"].to_list() == [
        "prepare", "train", "evaluate"]
    target = nodes.filter(pl.col("is_target"))
    assert target["id"].to_list() == [train.id]
    model = nodes.filter(pl.col("sha256") == sha("model.pt")).row(0, named=True)
    assert model["paths"] == ["model.pt"] and model["size"] == len("weights-1")
    assert model["label"] == f"model.pt@{sha('model.pt')[:12]}"
    assert set(edges["relation"]) == {"produced", "used_by"}
    made = edges.filter((pl.col("source") == train.id) & (pl.col("relation") == "produced"))
    assert made["target"].to_list() == [sha("model.pt")]
    assert edges.schema["paths"] == pl.List(pl.String)
    used = edges.filter(pl.col("target") == train.id).row(0, named=True)
    assert used["paths"] == ["data/train.csv"] and used["relation"] == "used_by"
    # every edge joins two nodes of the frame
    assert set(edges["source"]) | set(edges["target"]) <= set(nodes["id"])


def test_to_dot_and_displays_escape_names(tmp_path):
    write("in.txt", "a")
    write('we"ird\\<b>.txt', "b")
    with nbtrack.start_run("x<script>", name="r1") as run:
        run.use_input("in.txt")
        run.log_output('we"ird\\<b>.txt')
    lin = nbtrack.lineage(run)
    dot = lin.to_dot()
    assert dot.startswith("digraph lineage {")
    assert f'"{sha("in.txt")}" -> "{run.id}" [label="used by"];' in dot
    assert f'"{run.id}" -> "{sha(chr(119) + "e" + chr(34) + "ird" + chr(92) + "<b>.txt")}"' in dot
    assert 'we\\"ird\\\\<b>.txt' in dot  # quotes and backslashes escaped for DOT
    assert "shape=box" in dot and "shape=ellipse" in dot
    page = lin._repr_html_()
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<b>.txt" not in page and "&lt;b&gt;.txt" in page
    text = repr(lin)
    assert "run r1" in text and "used      in.txt@" in text and "produced" in text


def test_unknown_targets_are_clear_errors(chain):
    with pytest.raises(LineageTargetError, match="not a recorded file path"):
        nbtrack.lineage("no/such/file.csv")
    write("fresh.txt", "never recorded")
    with pytest.raises(LineageTargetError, match="never recorded"):
        nbtrack.lineage("fresh.txt")
    with pytest.raises(LineageTargetError, match="sha256"):
        nbtrack.lineage("0" * 64)
    with pytest.raises(LineageTargetError):
        nbtrack.lineage(42)


def test_lineage_of_the_active_run_sees_its_files_before_it_ends():
    write("a.txt", "a")
    run = nbtrack.start_run("live")
    run.use_input("a.txt")
    lin = nbtrack.lineage(run)  # flushed by the call, not by the background thread
    assert [f["paths"] for f in lin.files] == [["a.txt"]]
    run.end()


def test_hashing_streams_and_skips_unchanged_files(monkeypatch):
    from nbtrack.store import objects

    big = Path("big.bin")
    big.write_bytes(os.urandom(3 * objects.CHUNK + 5))
    reads: list[int] = []

    class Spy:
        def __init__(self, f):
            self.f = f

        def read(self, n=-1):
            reads.append(n)
            return self.f.read(n)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    monkeypatch.setattr(objects, "open", lambda *a, **k: Spy(open(*a, **k)), raising=False)
    first = objects.hash_file(big)
    assert first.sha256 == sha(big) and first.size == big.stat().st_size
    assert reads and all(0 < n <= objects.CHUNK for n in reads)  # never the whole file at once
    reads.clear()
    assert objects.hash_file(big).sha256 == first.sha256
    assert objects.hash_file(str(big.absolute())).sha256 == first.sha256
    assert reads == []  # unchanged (size, mtime, inode): not read again
    with big.open("r+b") as f:  # same size, new content
        f.write(b"changed")
    assert objects.hash_file(big).sha256 == sha(big) != first.sha256
    assert reads  # read again
