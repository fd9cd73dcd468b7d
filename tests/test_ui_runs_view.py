"""The run table's view rules on real stores: search, filter, sort, archive, grouping, the
columns it shows, windows of rows, the experiments list and the static fallbacks."""

from __future__ import annotations

import pytest

import nbtrack
from nbtrack.active import layout_for
from nbtrack.errors import FilterError
from nbtrack.ui import experiments_view, fallback, runs_view
from nbtrack.ui.runs_view import ViewState

pytestmark = pytest.mark.backends  # the panels read a bucket as they read a folder


@pytest.fixture
def layout(store):
    for i in range(12):
        with nbtrack.start_run(f"exp{i % 3}", name=f"run {i:02d} (lr test)", tags=["a", f"t{i % 2}"],
                               params={"lr": 10.0 ** -(i % 4), "bs": 32, "opt": {"name": "adam"}}) as run:
            run.log({"loss": 1 / (i + 1), "acc": i / 12}, step=0)
            run.log_metadata({"hardware": {"gpu": "A100" if i % 2 else "T4"}})
            if i == 7:
                run.note("the one with the **special** idea")
    return layout_for(str(store))


def view(layout, **state):
    return runs_view.compute(runs_view.load(layout), ViewState(**state))


def names(v) -> list[str]:
    return v.runs["name"].to_list()


def test_default_view_is_every_run_newest_first(layout):
    v = view(layout)
    assert v.total == v.runs.height == 12
    assert names(v)[0] == "run 11 (lr test)" and names(v)[-1] == "run 00 (lr test)"


def test_search_finds_name_experiment_tags_and_notes_case_blind(layout):
    assert names(view(layout, search="RUN 03")) == ["run 03 (lr test)"]
    assert len(view(layout, search="exp1").runs) == 4
    assert len(view(layout, search="t1").runs) == 6
    assert names(view(layout, search="special")) == ["run 07 (lr test)"]
    assert view(layout, search="nothing like this").runs.height == 0


def test_filters_use_the_where_grammar_and_bad_ones_point_at_the_token(layout):
    v = view(layout, where='params.lr < 0.05 and metadata.hardware.gpu contains "A100"')
    assert sorted(names(v)) == ["run 03 (lr test)", "run 07 (lr test)", "run 11 (lr test)"]
    with pytest.raises(FilterError) as info:
        view(layout, where="params.lr < 0.1 and params.lrr > 1")
    assert info.value.position == len("params.lr < 0.1 and ")


def test_sort_on_two_keys_and_on_a_list_column(layout):
    v = view(layout, sort=[["experiment", "desc"], ["params.lr", "asc"]])
    pairs = list(zip(v.runs["experiment"], v.runs["params.lr"], strict=True))
    assert pairs == sorted(pairs, key=lambda p: (-int(p[0][-1]), p[1]))
    by_tags = view(layout, sort=[["tags", "asc"]])
    assert by_tags.runs["tags"].to_list()[0] == ["a", "t0"]


def test_archived_runs_and_experiments_hidden_until_asked_for(layout):
    nbtrack.open_run("run 00 (lr test)").archive()
    nbtrack.experiment("exp1").archive()
    v = view(layout)
    assert "run 00 (lr test)" not in names(v) and "exp1" not in v.runs["experiment"].to_list()
    assert v.total == 7
    everything = view(layout, show_archived=True)
    assert everything.total == 12 and "run 00 (lr test)" in names(everything)


def test_group_by_experiment_puts_a_header_before_each_and_collapses(layout):
    v = view(layout, group_by="experiment", collapsed=["exp1"])
    kinds = v.rows["_kind"].to_list()
    assert kinds.count("group") == 3 and v.runs.height == 12
    assert v.count == 3 + 8  # exp1's four runs folded under its header
    headers = v.rows.filter(v.rows["_kind"] == "group")
    assert headers["_group"].to_list() == ["exp0", "exp1", "exp2"]
    assert headers["_group_count"].to_list() == [4, 4, 4]
    assert headers["_collapsed"].to_list() == [False, True, False]
    first_rows = v.rows["experiment"].to_list()[1:5]
    assert first_rows == ["exp0"] * 4


def test_columns_show_what_varies_first(layout):
    v = view(layout)
    shown = [c["name"] for c in v.columns]
    assert shown[:3] == ["status", "experiment", "name"]
    assert "cost" not in shown  # no cost rate: the empty column waits in the picker
    keyed = [c for c in shown if c.startswith(("params.", "metrics."))]
    varying = {c["name"]: c["varying"] for c in v.all_columns}
    assert keyed.index("params.lr") < keyed.index("params.bs")  # lr varies, bs is 32 for all
    assert varying["params.lr"] and not varying["params.bs"] and not varying["params.opt.name"]
    assert "metadata.hardware.gpu" in varying and "metadata.hardware.gpu" not in shown
    chosen = view(layout, columns=["name", "metadata.hardware.gpu", "no.such.column"])
    assert [c["name"] for c in chosen.columns] == ["name", "metadata.hardware.gpu"]


def test_window_and_ids_skip_group_headers(layout):
    v = view(layout, group_by="experiment")
    rows = runs_view.window(v, 0, 6)
    assert rows.height == 6 and rows["_kind"].to_list()[0] == "group"
    assert "run_id" in rows.columns and "params.lr" in rows.columns
    ids = runs_view.ids(v, 0, 6)
    assert len(ids) == 4 and all(len(i) == 26 for i in ids)  # exp0 header, its 4 runs, exp1 header
    assert runs_view.window(v, 100, 50).height == 0


def test_experiments_list_searches_filters_and_sorts(layout):
    nbtrack.experiment("exp2").set_description("Fine-tuning BERT on reviews")
    nbtrack.experiment("exp2").add_tags("nlp")
    nbtrack.experiment("exp0").archive()
    table = experiments_view.frame(layout, runs_view.load(layout))
    rows, tags = experiments_view.select(table, state="active", sort="experiment")
    assert rows["experiment"].to_list() == ["exp1", "exp2"] and tags == ["nlp"]
    assert experiments_view.select(table, search="bert")[0]["experiment"].to_list() == ["exp2"]
    assert experiments_view.select(table, tag="nlp")[0]["experiment"].to_list() == ["exp2"]
    archived, _ = experiments_view.select(table, state="archived")
    assert archived["experiment"].to_list() == ["exp0"]
    every, _ = experiments_view.select(table, state="all", sort="runs")
    assert every.height == 3 and every["runs"].to_list() == [4, 4, 4]
    assert every["completed"].to_list() == [4, 4, 4]
    assert (every["last_activity"] >= every["created"]).all()


def test_fallbacks_say_how_many_are_shown_and_escape_names(store):
    for i in range(25):
        with nbtrack.start_run("exp", name="<img src=x onerror=alert(1)>" if i == 22 else None):
            pass
    v = runs_view.compute(runs_view.load(layout_for(str(store))), ViewState())
    html = fallback.table_html(v)
    assert "20 of 25 runs shown" in html
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    text = fallback.table_text(v, limit=5)
    assert text.splitlines()[0] == "nbtrack: 5 of 25 runs shown" and len(text.splitlines()) == 7


def test_group_by_sweep_puts_trials_together_and_other_runs_last(layout):
    sweep = nbtrack.sweep("lr-grid", experiment="exp0", strategy="grid", parameters={"x": {"values": [1, 2, 3]}},
                          objective="acc", direction="maximize")
    for _ in range(3):
        params, trial = sweep.suggest()
        sweep.complete(trial, {"acc": params["x"] / 10})
    v = view(layout, group_by="sweep_id")
    headers = v.rows.filter(v.rows["_kind"] == "group")
    assert headers["_group_count"].to_list() == [3, 12]
    assert headers["_group"].to_list() == ["lr-grid", ""]  # the sweep's name; runs of no sweep last
    assert headers["_group_key"].to_list() == [sweep.id, ""]
    folded = view(layout, group_by="sweep_id", collapsed=[sweep.id])
    assert folded.count == 2 + 12
    trials = v.rows["sweep_trial"].to_list()[1:4]
    assert sorted(trials) == [0, 1, 2] or sorted(trials) == [1, 2, 3]
    assert view(layout, group_by="no-such-column").rows.height == 15  # unknown: not grouped
