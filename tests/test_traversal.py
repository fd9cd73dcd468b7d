"""Hostile paths: ``../``, absolute paths, ``%2e%2e``, NUL bytes, backslashes and symbolic
links, given to every argument that names a place, never write outside the store."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import nbtrack
from nbtrack.errors import NbtrackError

HOSTILE = ["../escape", "../../escape", "/tmp/nbtrack-escape", "%2e%2e/escape",
           "..%2fescape", "a/../../escape", "escape\x00.txt", "..\\escape", "C:\\escape",
           "./../escape", "names/../../escape", "~/escape", "", ".", ".."]


def everything_under(folder: Path) -> set[str]:
    return {str(p) for p in folder.rglob("*")}


@pytest.fixture
def fenced(tmp_path, store):
    """The files outside the store, before and after: the test adds its own inputs."""
    (tmp_path / "in.txt").write_text("input")
    outside = tmp_path / "outside.txt"
    outside.write_text("not the run's")
    (tmp_path / "link-out").symlink_to(outside)
    with nbtrack.start_run("exp"):
        pass
    before = everything_under(tmp_path) - everything_under(store)
    parent_before = set(os.listdir(tmp_path.parent))
    yield
    after = everything_under(tmp_path) - everything_under(store)
    assert after == before, after - before
    assert set(os.listdir(tmp_path.parent)) == parent_before
    assert not Path("/tmp/nbtrack-escape").exists()


def attempt(call) -> None:
    try:
        call()
    except (NbtrackError, ValueError, TypeError, FileNotFoundError, OSError):
        pass  # refused: what matters is that nothing was written outside


@pytest.mark.parametrize("bad", HOSTILE)
def test_no_path_argument_escapes_the_store(fenced, tmp_path, bad):
    run = nbtrack.start_run("exp")
    attempt(lambda: run.log_artifact("in.txt", artifact_path=bad))
    attempt(lambda: run.log_artifacts(tmp_path, artifact_path=bad))
    attempt(lambda: run.log_artifact("link-out"))
    attempt(lambda: nbtrack.start_run("exp", name=bad).end())
    attempt(lambda: nbtrack.start_run(bad).end())
    attempt(lambda: run.add_tags(bad))
    attempt(lambda: run.log({bad: 1.0}))
    attempt(lambda: run.log_params({bad: 1}))
    attempt(lambda: nbtrack.get_run(bad))
    attempt(lambda: nbtrack.metrics([bad]))
    attempt(lambda: nbtrack.experiment(bad).set_description("x"))
    attempt(lambda: nbtrack.open_run(bad))
    attempt(lambda: nbtrack.lineage(bad))
    run.end()
    for name in os.listdir(tmp_path / "store" / "names"):
        assert "/" not in name and not name.startswith("..")
