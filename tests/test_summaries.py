"""runs()'s wide table: user keys become prefixed columns and never collide with nbtrack's."""

from __future__ import annotations

import pytest

import nbtrack
from nbtrack import cli

pytestmark = pytest.mark.backends

# every column runs() makes itself, plus names the pivot and the query layer use
OWN_COLUMNS = ("run_id", "name", "experiment", "status", "started", "ended", "duration_s",
               "user", "host", "tags", "archived", "cost", "parent_run_id", "inputs",
               "outputs", "input_sha256", "output_sha256", "rev", "param_keys", "meta_keys")


@pytest.mark.parametrize("key", OWN_COLUMNS)
def test_a_user_key_named_like_an_own_column_poisons_nothing(key, capsys):
    with nbtrack.start_run("exp", name="poison", params={key: 1},
                           metadata={key: {"x": "y"}, "flat": {key: True}}) as run:
        run.log({key: 0.5})
    with nbtrack.start_run("exp", name="plain", params={"lr": 0.1}) as other:
        other.log({"loss": 1.0})
    frame = nbtrack.runs(sort="started")
    assert frame["run_id"].to_list() == [run.id, other.id]
    assert frame["name"].to_list() == ["poison", "plain"]
    assert frame[f"params.{key}"].to_list() == [1, None]
    assert frame[f"metrics.{key}"].to_list() == [0.5, None]
    assert frame[f"metadata.{key}.x"].to_list() == ["y", None]
    assert frame[f"metadata.flat.{key}"].to_list() == [True, None]
    assert nbtrack.runs(where=f"params.{key} == 1")["run_id"].to_list() == [run.id]
    assert nbtrack.metrics().height == 2
    assert cli.main(["runs"]) == 0
    assert "poison" in capsys.readouterr().out


def test_a_run_whose_records_are_gone_is_listed_with_a_warning(store):
    from nbtrack.errors import CorruptFileWarning

    from support import remove_tree

    with nbtrack.start_run("exp", name="gone") as run:
        run.log({"x": 1.0})
    with nbtrack.start_run("exp", name="kept"):
        pass
    remove_tree(store / "runs" / run.id)
    with pytest.warns(CorruptFileWarning, match=f"{run.id}.*gone"):
        frame = nbtrack.runs()
    assert set(frame["name"]) == {"gone", "kept"}


READER = """
    import sys
    import polars, nbtrack
    frame = nbtrack.runs()
    assert sorted(frame["status"].to_list()) == ["completed"] * 4 + ["crashed"], frame
    assert nbtrack.metrics().height == 4 * 200 + 2
    assert nbtrack.metrics(keys=["acc"]).height == 4 * 100
    nbtrack.get_run(frame["run_id"][0])
    nbtrack.experiments()
    print("pyarrow" in sys.modules)
"""


def test_a_reading_process_never_imports_pyarrow(store, spawn, monkeypatch):
    """polars reads every file itself (index compacts from the bytes their sum was checked
    on, footers by hand), so a reader pays no pyarrow import."""
    from nbtrack.store import index

    monkeypatch.setattr(index, "COMPACT_THRESHOLD", 2)  # compact index files too
    for i in range(4):
        with nbtrack.start_run("e", params={"i": i}) as run:
            for step in range(100):
                run.log({"loss": float(step), "acc": 1.0}, step=step)
    writer = spawn("""
        import os, nbtrack
        run = nbtrack.start_run("e")
        for x in (1.0, 2.0):
            run.log({"loss": x})
            run.flush()  # two segments, not merged: the writer dies
        print(run.id, flush=True)
        os._exit(0)
    """)
    writer.wait(timeout=60)
    assert list((store / "index").glob("*.arrow")), "no compact index file to read"
    reader = spawn(READER)
    out, err = reader.communicate(timeout=120)
    assert reader.returncode == 0, err[-3000:]
    assert out.strip() == "False", "a reader imported pyarrow"
