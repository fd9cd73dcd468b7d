"""Artifacts, inputs, datasets and outputs: content stored once by sha256, paths kept inside."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

import nbtrack
from nbtrack.errors import ArtifactPathError

pytestmark = pytest.mark.backends


def write(path: str, data: bytes) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    return p


def object_files(store: Path) -> set[Path]:
    """Every stored object (a run start may store some of its own, e.g. the environment)."""
    return {p for p in (store / "objects" / "sha256").rglob("*") if p.is_file()}


def object_path(store: Path, data: bytes) -> Path:
    digest = sha(data)
    return store / "objects" / "sha256" / digest[:2] / digest[2:]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_log_artifact_stores_content_by_hash_and_records_an_output(store):
    data = b"weights" * 1000
    write("model.pt", data)
    with nbtrack.start_run("exp") as run:
        dest = run.log_artifact("model.pt", artifact_path="checkpoints/")
    assert dest == "checkpoints/model.pt"
    digest = sha(data)
    assert object_path(store, data).read_bytes() == data
    log = nbtrack.get_run(run.id)
    assert log["artifacts"] == [
        {"path": "checkpoints/model.pt", "source": "model.pt", "sha256": digest,
         "size": len(data), "t": log["artifacts"][0]["t"]}
    ]
    [out] = log["outputs"]
    assert (out["path"], out["size"], out["sha256"]) == ("model.pt", len(data), digest)
    row = nbtrack.runs().row(0, named=True)
    assert row["outputs"] == ["model.pt"] and row["output_sha256"] == [digest]


def test_identical_content_is_stored_once_across_runs(store):
    write("a/model.pt", b"same bytes")
    write("b/other-name.bin", b"same bytes")
    write("c/data.csv", b"same bytes")
    with nbtrack.start_run("exp") as one:
        before = object_files(store)
        one.log_artifact("a/model.pt")
    with nbtrack.start_run("exp") as two:
        two.log_artifact("b/other-name.bin", artifact_path="x")
        two.use_input("c/data.csv")
    assert object_files(store) - before == {object_path(store, b"same bytes")}
    digests = {
        item["sha256"]
        for r in (one, two)
        for kind in ("outputs", "inputs")
        for item in nbtrack.get_run(r.id)[kind]
    }
    assert digests == {sha(b"same bytes")}


def test_changed_content_gets_a_new_object(store):
    p = write("model.pt", b"v1")
    with nbtrack.start_run("exp") as run:
        before = object_files(store)
        run.log_artifact(p)
        p.write_bytes(b"version two")
        run.log_artifact(p, artifact_path="later")
    assert object_files(store) - before == {
        object_path(store, b"v1"), object_path(store, b"version two"),
    }
    assert [a["sha256"] for a in nbtrack.get_run(run.id)["artifacts"]] == [
        sha(b"v1"), sha(b"version two"),
    ]


def test_log_artifacts_keeps_the_folder_layout(store):
    write("out/metrics.json", b"{}")
    write("out/plots/loss.png", b"png")
    write("out/plots/acc.png", b"png")  # same content as loss.png: one object
    with nbtrack.start_run("exp") as run:
        before = object_files(store)
        done = run.log_artifacts("out", artifact_path="results/")
    assert done == ["results/metrics.json", "results/plots/acc.png", "results/plots/loss.png"]
    log = nbtrack.get_run(run.id)
    assert [a["path"] for a in log["artifacts"]] == done
    assert sorted(o["path"] for o in log["outputs"]) == [
        "out/metrics.json", "out/plots/acc.png", "out/plots/loss.png",
    ]
    assert object_files(store) - before == {
        object_path(store, b"{}"), object_path(store, b"png"),
    }


@pytest.mark.parametrize(
    "bad", ["../x", "/abs", "/etc/passwd", "a/../../b", "a/../b", "..", "a\\b", "..\\x", "C:x"]
)
def test_artifact_path_leaving_the_run_is_refused_and_nothing_stored(store, bad):
    write("model.pt", b"weights")
    write("folder/f.txt", b"text")
    write("empty/.keep", b"")
    Path("empty/.keep").unlink()
    with nbtrack.start_run("exp") as run:
        before = object_files(store)
        with pytest.raises(ArtifactPathError):
            run.log_artifact("model.pt", artifact_path=bad)
        with pytest.raises(ArtifactPathError):
            run.log_artifacts("folder", artifact_path=bad)
        with pytest.raises(ArtifactPathError):
            run.log_artifacts("empty", artifact_path=bad)
        with pytest.raises(ArtifactPathError):
            nbtrack.log_artifact("model.pt", artifact_path=bad)
    assert object_files(store) == before
    log = nbtrack.get_run(run.id)
    assert log["artifacts"] == [] and log["outputs"] == []


def test_log_artifacts_refuses_a_bad_file_before_storing_any(store, tmp_path):
    write("folder/a.txt", b"a")
    outside = tmp_path.parent / f"{tmp_path.name}-outside.txt"
    outside.write_bytes(b"not the run's")
    Path("folder/link.txt").symlink_to(outside)  # a link that leaves the working tree
    with nbtrack.start_run("exp") as run:
        before = object_files(store)
        with pytest.raises(ArtifactPathError, match="outside the working directory"):
            run.log_artifacts("folder")
    assert object_files(store) == before
    assert nbtrack.get_run(run.id)["artifacts"] == []


def test_a_file_name_with_a_backslash_is_a_file_name(store):
    write("folder/b\\c.txt", b"b")  # a plain character in a POSIX file name
    with nbtrack.start_run("exp") as run:
        assert run.log_artifacts("folder") == ["b\\c.txt"]
        assert run.log_artifact("folder/b\\c.txt", artifact_path="x") == "x/b\\c.txt"
        with pytest.raises(ArtifactPathError):  # in an artifact path it would be a separator
            run.log_artifact("folder/b\\c.txt", artifact_path="x\\y")
    assert [a["path"] for a in nbtrack.get_run(run.id)["artifacts"]] == ["b\\c.txt", "x/b\\c.txt"]


def test_a_symbolic_link_inside_the_tree_is_stored_and_says_so(store, tmp_path):
    write("data/real.txt", b"real")
    Path("data/alias.txt").symlink_to(Path("data/real.txt").absolute())
    with nbtrack.start_run("exp") as run:
        run.log_artifact("data/alias.txt")
    [artifact] = nbtrack.get_run(run.id)["artifacts"]
    assert artifact["symlink_to"] == str((tmp_path / "data" / "real.txt").resolve())
    assert artifact["sha256"] == sha(b"real")


def test_use_input_records_path_size_hash_and_returns_the_path(store):
    p = write("data/train.csv", b"a,b\n1,2\n")
    with nbtrack.start_run("exp") as run:
        assert run.use_input("data/train.csv") == "data/train.csv"
        assert run.use_input(p) is p
        assert nbtrack.use_input("data/train.csv") == "data/train.csv"
    log = nbtrack.get_run(run.id)
    # the same content at the same path, used three times, is one input of the run
    assert [(i["path"], i["size"], i["sha256"]) for i in log["inputs"]] == [
        ("data/train.csv", 8, sha(b"a,b\n1,2\n"))
    ]
    assert nbtrack.runs()["inputs"].to_list() == [["data/train.csv"]]
    assert object_path(store, b"a,b\n1,2\n").read_bytes() == b"a,b\n1,2\n"


def test_file_outside_the_working_directory_is_recorded_absolute(tmp_path, monkeypatch):
    p = write("elsewhere/data.bin", b"x").absolute()
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    with nbtrack.start_run("exp") as run:
        run.use_input(p)
    assert nbtrack.get_run(run.id)["inputs"][0]["path"] == p.as_posix()


def test_missing_input_raises_and_records_nothing():
    with nbtrack.start_run("exp") as run:
        with pytest.raises(FileNotFoundError):
            run.use_input("nope.csv")
        with pytest.raises(FileNotFoundError):
            run.log_artifact("nope.pt")
    log = nbtrack.get_run(run.id)
    assert log["inputs"] == [] and log["artifacts"] == []


def test_log_dataset_is_a_named_input():
    write("data/reviews.csv", b"text,label\n")
    with nbtrack.start_run("exp") as run:
        got = run.log_dataset(name="reviews-v2", path="data/reviews.csv", description="IMDB")
    assert got == "data/reviews.csv"
    [item] = nbtrack.get_run(run.id)["inputs"]
    assert item["name"] == "reviews-v2" and item["description"] == "IMDB"
    assert item["sha256"] == sha(b"text,label\n") and item["size"] == 11


def test_log_output_records_an_output(store):
    write("preds.parquet", b"PAR1")
    with nbtrack.start_run("exp") as run:
        before = object_files(store)
        assert run.log_output("preds.parquet") == "preds.parquet"
    [out] = nbtrack.get_run(run.id)["outputs"]
    assert (out["path"], out["size"], out["sha256"]) == ("preds.parquet", 4, sha(b"PAR1"))
    assert object_files(store) - before == {object_path(store, b"PAR1")}
