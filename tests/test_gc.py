"""``nbtrack gc`` and ``nbtrack compact`` on a real store: only unreferenced content goes,
only from inside the store."""

from __future__ import annotations

import json
import os
import time

import pytest
from test_cli import cli

import nbtrack
from nbtrack.active import layout_for
from nbtrack.store import gc, objects


def _age(path, seconds: float = 7200) -> None:
    old = time.time() - seconds
    os.utime(path, (old, old))


def _run_with_an_artifact_and_an_input(tmp_path):
    """An ended run whose artifact and input objects gc must keep."""
    (tmp_path / "kept.txt").write_text("kept")
    (tmp_path / "input.csv").write_text("a,b\n1,2\n")
    with nbtrack.start_run("gc") as run:
        run.log_artifact("kept.txt")
        run.use_input("input.csv")
        run.log({"x": 1.0})
    return run


def test_gc_removes_only_what_nothing_references(store, tmp_path):
    run = _run_with_an_artifact_and_an_input(tmp_path)
    layout = layout_for()
    orphan = objects.put_bytes(layout, b"nobody names me")
    fresh = objects.put_bytes(layout, b"stored a moment ago")
    for sha, path in _all_objects(layout):
        if sha != fresh:
            _age(path)
    outside = tmp_path / "not-in-store.bin"
    outside.write_bytes(b"x")
    _age(outside)

    dry = json.loads(cli("gc", "--dry-run", "--json", store=store).stdout)
    assert [item["sha256"] for item in dry["removed"]] == [orphan]
    assert layout.object_path(orphan).exists()  # a dry run removes nothing
    done = cli("gc", store=store)
    assert done.returncode == 0 and "removed 1 of" in done.stdout
    assert not layout.object_path(orphan).exists()
    assert layout.object_path(fresh).exists()  # younger than the grace period
    assert outside.exists()
    log = nbtrack.get_run(run.id)
    for item in log["artifacts"] + log["inputs"]:
        assert layout.object_path(item["sha256"]).exists()
    assert layout.object_path(log["env_sha256"]).exists()  # named by the start record
    assert nbtrack.gc(dry_run=True)["removed"] == []


@pytest.mark.parametrize("backend", ["s3"], indirect=True)
def test_gc_on_a_bucket_removes_only_what_nothing_references(store, tmp_path):
    """The same on a bucket (a bucket's objects cannot be aged by hand: the grace period
    is given instead)."""
    run = _run_with_an_artifact_and_an_input(tmp_path)
    layout = layout_for()
    orphan = objects.put_bytes(layout, b"nobody names me")
    assert gc.collect(layout, dry_run=True)["removed"] == []  # all younger than an hour
    dry = gc.collect(layout, dry_run=True, grace_s=0)
    assert [item["sha256"] for item in dry["removed"]] == [orphan]
    assert layout.object_path(orphan).exists()
    done = gc.collect(layout, dry_run=False, grace_s=0)
    assert [item["sha256"] for item in done["removed"]] == [orphan]
    assert not layout.object_path(orphan).exists()
    log = nbtrack.get_run(run.id)
    for item in log["artifacts"] + log["inputs"]:
        assert layout.object_path(item["sha256"]).exists()
    assert layout.object_path(log["env_sha256"]).exists()
    assert json.loads(cli("gc", "--dry-run", "--json", store=store).stdout)["removed"] == []


def _all_objects(layout):
    base = layout.objects_dir / "sha256"
    for prefix in os.listdir(base):
        for rest in os.listdir(base / prefix):
            yield prefix + rest, base / prefix / rest


def test_compact_merges_index_and_ended_runs(store):
    for i in range(3):
        with nbtrack.start_run("compact") as run:
            run.log({"x": float(i)})
    out = json.loads(cli("compact", "--json", store=store).stdout)
    assert out["index_files_before"] > out["index_files_after"] == 1
    assert nbtrack.runs("compact").height == 3
    assert "index files" in cli("compact", store=store).stdout
