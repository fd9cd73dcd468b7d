"""Reading the store: runs(), metrics(), get_run(), experiments, edits of finished runs."""

from __future__ import annotations

import getpass
import json
import socket
from datetime import datetime

import polars as pl
import pytest

import nbtrack
from nbtrack.errors import FilterError, RunNotFoundError

from support import empty_store

pytestmark = pytest.mark.backends

DESIGN_COLUMNS = [
    "run_id", "name", "experiment", "status", "started", "ended", "duration_s",
    "user", "host", "tags",
]


def make_runs():
    """Three finished runs in two experiments, and one still running."""
    with nbtrack.start_run("bert", name="r-small", tags=["nlp"], params={"lr": 0.01}) as a:
        a.log({"loss": 1.0, "acc": 0.5}, step=0)
        a.log({"loss": 0.4}, step=5)
        a.log({"loss": 9.0}, step=2)  # logged last, but not the highest step
    with nbtrack.start_run("bert", name="r-big", tags=["nlp", "final"], params={"lr": 0.1}) as b:
        b.log({"loss": 0.2, "acc": 0.8})
    with pytest.raises(RuntimeError):
        with nbtrack.start_run("vision", name="r-cnn", params={"lr": 0.05, "opt": "sgd"}) as c:
            c.log({"loss": 3.0})
            raise RuntimeError("oom")
    d = nbtrack.start_run("vision", name="r-live")
    d.log({"loss": 7.0})
    d.flush()
    return a, b, c, d


def by_name(frame: pl.DataFrame) -> dict[str, dict]:
    return {row["name"]: row for row in frame.iter_rows(named=True)}


def test_runs_has_the_design_columns_and_one_row_per_run():
    a, b, c, d = make_runs()
    frame = nbtrack.runs()
    assert frame.columns[: len(DESIGN_COLUMNS)] == DESIGN_COLUMNS
    assert frame.height == 4 and frame["run_id"].n_unique() == 4
    assert set(frame["run_id"]) == {a.id, b.id, c.id, d.id}
    rows = by_name(frame)
    small = rows["r-small"]
    assert small["experiment"] == "bert" and small["status"] == "completed"
    assert small["user"] == getpass.getuser() and small["host"] == socket.gethostname()
    assert small["tags"] == ["nlp"]
    assert isinstance(small["started"], datetime) and small["ended"] >= small["started"]
    assert small["duration_s"] >= 0
    assert rows["r-cnn"]["status"] == "failed"
    assert rows["r-live"]["status"] == "running" and rows["r-live"]["ended"] is None
    # params.<key> and metrics.<key> follow the base columns
    extra = frame.columns[len(DESIGN_COLUMNS):]
    assert {"params.lr", "params.opt", "metrics.loss", "metrics.acc"} <= set(extra)
    assert frame.schema["params.lr"] == pl.Float64 and frame.schema["metrics.loss"] == pl.Float64


def test_metric_column_holds_the_value_at_the_highest_step():
    make_runs()
    rows = by_name(nbtrack.runs())
    assert rows["r-small"]["metrics.loss"] == 0.4  # step 5 beats the later-logged step 2
    assert rows["r-small"]["metrics.acc"] == 0.5
    assert rows["r-big"]["metrics.loss"] == 0.2
    assert rows["r-live"]["metrics.loss"] == 7.0  # a running run's flushed points count
    assert rows["r-cnn"]["params.opt"] == "sgd" and rows["r-small"]["params.opt"] is None


def test_empty_store_gives_an_empty_frame_with_the_columns(store):
    empty_store(store)  # an empty folder is an empty store (reading never makes one)
    frame = nbtrack.runs()
    assert frame.height == 0
    assert frame.columns[: len(DESIGN_COLUMNS)] == DESIGN_COLUMNS
    assert nbtrack.metrics().height == 0


@pytest.mark.parametrize(
    ("sort", "descending", "expected"),
    [
        ("metrics.loss", False, ["r-big", "r-small", "r-cnn", "r-live"]),
        ("metrics.loss", True, ["r-live", "r-cnn", "r-small", "r-big"]),
        ("loss", False, ["r-big", "r-small", "r-cnn", "r-live"]),  # bare metric name
        ("params.lr", False, ["r-small", "r-cnn", "r-big", "r-live"]),  # nulls last
        ("name", False, ["r-big", "r-cnn", "r-live", "r-small"]),
        ("started", False, ["r-small", "r-big", "r-cnn", "r-live"]),
        ("status", True, ["r-live", "r-cnn", "r-small", "r-big"]),
    ],
)
def test_runs_sort_by_any_column(sort, descending, expected):
    make_runs()
    frame = nbtrack.runs(sort=sort, descending=descending)
    got = frame["name"].to_list()
    if sort == "status":  # r-small and r-big tie on "completed"
        assert got[:2] == expected[:2] and set(got[2:]) == set(expected[2:])
    else:
        assert got == expected


def test_runs_default_order_is_newest_first():
    make_runs()
    assert nbtrack.runs()["name"].to_list() == ["r-live", "r-cnn", "r-big", "r-small"]


def test_runs_sort_by_unknown_column_suggests():
    make_runs()
    with pytest.raises(FilterError, match="metrics.loss"):
        nbtrack.runs(sort="metrics.los")


def test_runs_filters_by_experiment_tags_and_status():
    make_runs()
    names = lambda **kw: sorted(nbtrack.runs(**kw)["name"])  # noqa: E731
    assert names(experiment="bert") == ["r-big", "r-small"]
    assert names(experiment=["bert", "vision"]) == ["r-big", "r-cnn", "r-live", "r-small"]
    assert names(tags="nlp") == ["r-big", "r-small"]
    assert names(tags=["nlp", "final"]) == ["r-big"]
    assert names(status="failed") == ["r-cnn"]
    assert names(status=["running", "failed"]) == ["r-cnn", "r-live"]
    assert names(experiment="vision", status="completed") == []
    assert names(experiment="nope") == []


def test_metrics_long_frame_for_ids_names_frames_and_runs():
    a, b, c, d = make_runs()
    frame = nbtrack.metrics([a.id, b.id])
    assert frame.columns == ["run_id", "key", "step", "value", "time"]
    assert frame.schema["run_id"] == pl.String and frame.schema["step"] == pl.Int64
    assert frame.schema["value"] == pl.Float64 and isinstance(frame.schema["time"], pl.Datetime)
    assert frame.height == 4 + 2
    assert sorted(frame.filter(pl.col("run_id") == a.id)["step"]) == [0, 0, 2, 5]

    by_names = nbtrack.metrics(["r-small", "r-big"])
    assert by_names.sort("run_id", "key", "step").equals(frame.sort("run_id", "key", "step"))
    by_frame = nbtrack.metrics(nbtrack.runs(experiment="bert"))
    assert by_frame.sort("run_id", "key", "step").equals(frame.sort("run_id", "key", "step"))
    assert nbtrack.metrics(a).height == 4 and nbtrack.metrics("r-cnn").height == 1
    assert nbtrack.metrics().height == 4 + 2 + 1 + 1

    losses = nbtrack.metrics(["r-small", "r-big"], keys=["loss"])
    assert set(losses["key"]) == {"loss"} and losses.height == 4
    assert nbtrack.metrics("r-small", keys="acc")["value"].to_list() == [0.5]
    assert nbtrack.metrics(nbtrack.runs(experiment="nope")).height == 0


def test_unknown_run_raises_run_not_found():
    make_runs()
    with pytest.raises(RunNotFoundError):
        nbtrack.get_run("no-such-run")
    with pytest.raises(RunNotFoundError):
        nbtrack.metrics(["r-small", "no-such-run"])
    with pytest.raises(RunNotFoundError):
        nbtrack.get_run("../../etc")


def test_get_run_is_the_whole_log_and_json_able(tmp_path):
    (tmp_path / "in.csv").write_text("x\n")
    (tmp_path / "model.pt").write_bytes(b"m")
    with nbtrack.start_run("bert", name="full", tags=["nlp"], params={"lr": 0.1},
                           notes="hello") as run:
        run.log({"loss": 1.0}, step=0)
        run.log({"loss": 0.5}, step=1)
        run.log_metadata({"hardware": {"gpu": "A100"}})
        run.use_input("in.csv")
        run.log_artifact("model.pt")
    log = nbtrack.get_run("full")
    back = json.loads(json.dumps(log))
    assert back["run_id"] == run.id and back["name"] == "full" and back["experiment"] == "bert"
    assert back["params"] == {"lr": 0.1} and back["tags"] == ["nlp"]
    assert back["metadata"] == {"hardware": {"gpu": "A100"}}
    assert [n["text"] for n in back["notes"]] == ["hello"]
    assert back["metrics"]["loss"]["steps"] == [0, 1]
    assert back["metrics"]["loss"]["values"] == [1.0, 0.5]
    assert len(back["metrics"]["loss"]["times"]) == 2
    assert [h["status"] for h in back["status_history"]] == ["running", "completed"]
    assert all(h["time"] for h in back["status_history"])
    timings = back["timings"]
    assert datetime.fromisoformat(timings["started"]) <= datetime.fromisoformat(timings["ended"])
    assert timings["duration_s"] >= 0
    assert [i["path"] for i in back["inputs"]] == ["in.csv"]
    assert [o["path"] for o in back["outputs"]] == ["model.pt"]
    assert [a["path"] for a in back["artifacts"]] == ["model.pt"]
    assert back["status"] == "completed"
    assert nbtrack.get_run(run.id, with_metrics=False).get("metrics") in (None, {})


def test_get_run_accepts_a_run_and_a_row():
    with nbtrack.start_run("e") as run:
        pass
    assert nbtrack.get_run(run)["run_id"] == run.id
    row = nbtrack.runs().row(0, named=True)
    assert nbtrack.get_run(row)["run_id"] == run.id


def test_experiments_list_describe_tag_archive_unarchive():
    make_runs()
    frame = nbtrack.experiments()
    rows = {r["experiment"]: r for r in frame.iter_rows(named=True)}
    assert set(rows) == {"bert", "vision"}
    assert rows["bert"]["runs"] == 2 and rows["bert"]["completed"] == 2
    assert rows["vision"]["failed"] == 1 and rows["vision"]["running"] == 1

    exp = nbtrack.experiment("bert")
    exp.set_description("fine-tuning BERT")
    exp.add_tags("nlp", "paper")
    exp.remove_tags("paper")
    info = exp.describe()
    assert info["description"] == "fine-tuning BERT" and info["tags"] == ["nlp"]
    assert info["runs"] == 2 and info["statuses"] == {"completed": 2}
    assert info["params"] == ["lr"] and info["metrics"] == ["acc", "loss"]
    assert len(info["run_ids"]) == 2

    exp.archive()
    assert sorted(nbtrack.runs()["name"]) == ["r-cnn", "r-live"]
    assert nbtrack.runs(experiment="bert").height == 0
    assert sorted(nbtrack.runs(include_archived=True)["name"]) == [
        "r-big", "r-cnn", "r-live", "r-small",
    ]
    assert nbtrack.experiments()["experiment"].to_list() == ["vision"]
    assert set(nbtrack.experiments(include_archived=True)["experiment"]) == {"bert", "vision"}
    assert exp.describe()["archived"] is True

    exp.unarchive()
    assert nbtrack.runs().height == 4
    assert set(nbtrack.experiments()["experiment"]) == {"bert", "vision"}


def test_describe_unknown_experiment_raises(store):
    empty_store(store)
    with pytest.raises(nbtrack.errors.NbtrackError, match="nope"):
        nbtrack.experiment("nope").describe()


def test_open_run_edits_of_a_finished_run_show_up_in_runs():
    a, b, c, d = make_runs()
    edit = nbtrack.open_run("r-small")
    edit.add_tags("baseline")
    edit.remove_tags("nlp")
    edit.note("looked at it again")
    edit.log_metadata({"review": {"ok": True}})
    edit.log_params({"seed": 3})
    row = by_name(nbtrack.runs())["r-small"]
    assert row["tags"] == ["baseline"]
    assert row["metadata.review.ok"] is True and row["params.seed"] == 3
    assert row["status"] == "completed" and row["metrics.loss"] == 0.4
    assert [n["text"] for n in nbtrack.get_run(a.id)["notes"]] == ["looked at it again"]
    with pytest.raises(nbtrack.errors.RunEndedError):
        edit.log({"loss": 1.0})

    nbtrack.open_run(b.id).archive()
    assert "r-big" not in nbtrack.runs()["name"].to_list()
    assert by_name(nbtrack.runs(include_archived=True))["r-big"]["archived"] is True
    nbtrack.open_run(b.id).unarchive()
    assert "r-big" in nbtrack.runs()["name"].to_list()


def test_metrics_with_keys_skips_the_runs_that_never_logged_them(monkeypatch):
    from nbtrack.store import metric_files

    with nbtrack.start_run("vision") as a:
        a.log({"loss": 1.0, "acc": 0.5}, step=0)
    with nbtrack.start_run("text") as b:
        b.log({"perplexity": 9.0}, step=0)
    running = nbtrack.start_run("text")
    running.log({"loss": 2.0}, step=0)
    running.flush()
    opened: list[str] = []
    real = metric_files.segment_files
    monkeypatch.setattr(metric_files, "segment_files",
                        lambda layout, rid, check=True: opened.append(rid) or real(layout, rid, check))
    frame = nbtrack.metrics(keys=["loss"])
    assert sorted(frame["run_id"].to_list()) == sorted([a.id, running.id])
    assert b.id not in opened  # its files were never listed nor read
    everything = nbtrack.metrics()
    assert frame.sort("run_id").equals(
        everything.filter(pl.col("key") == "loss").sort("run_id"))
    running.end()
