"""The sweep panel on a real sweep in a real store: the trials it sends, the best-so-far curve
and parallel coordinates as vega specs that compile, live signatures, escaped fallbacks, and the
public entries (``sweep.show()``, ``nbtrack.show(sweep)``)."""

from __future__ import annotations

import io

import polars as pl
import pytest

import nbtrack
from nbtrack.ui.sweep_panel import SweepPanel

from panel_wire import Wire, only_chart_images

pytestmark = pytest.mark.backends  # the panels read a bucket as they read a folder


def objective(params, trial):
    value = -(params["lr"] - 0.01) ** 2 * 1e4 + (0.1 if params["opt"] == "adam" else 0.0)
    trial.log({"val_acc": value}, step=0)
    return {"val_acc": value}


@pytest.fixture
def sweep(store):
    sw = nbtrack.sweep("<b>grid</b>", strategy="grid", objective="val_acc", direction="maximize",
                       parameters={"lr": {"values": [0.001, 0.01, 0.1]}, "opt": {"values": ["adam", "<i>sgd</i>"]}})
    sw.run(objective, n_trials=5)
    return sw


def test_the_panel_sends_the_summary_and_every_trial(sweep):
    panel = SweepPanel(sweep, live=False)
    reply, buffers = Wire(panel).ask("sweep")
    assert reply["ok"] and reply["summary"]["name"] == "<b>grid</b>" and reply["summary"]["budget"] == 6
    assert reply["params"] == ["params.lr", "params.opt"]
    trials = pl.read_ipc_stream(io.BytesIO(buffers[0]))
    assert trials.height == 5 and set(trials["state"]) == {"completed"}
    best = trials.sort("value", descending=True).row(0, named=True)
    assert best["params.lr"] == 0.01 and best["params.opt"] == "adam"
    assert reply["summary"]["best_run_id"] == best["run_id"]
    assert trials["best_so_far"].to_list() == sorted(trials["best_so_far"].to_list())  # never gets worse
    assert isinstance(trials["started"][0], float) and trials["started"][0] > 1e12  # epoch ms for the browser


@pytest.mark.parametrize("kind", ["best", "parallel"])
def test_best_so_far_and_parallel_coordinates_compile(sweep, kind):
    import vl_convert

    panel = SweepPanel(sweep, live=False)
    wire = Wire(panel)
    reply, _ = wire.ask("chart", kind=kind)
    assert reply["ok"], reply.get("error")
    data = {}
    for name in reply["datasets"]:
        answer, buffers = wire.ask("chart_data", kind=kind, name=name)
        data[name] = pl.read_ipc_stream(io.BytesIO(buffers[0])).to_dicts()
    assert vl_convert.vegalite_to_svg({**reply["spec"], "datasets": data, "width": 400}).startswith("<svg")
    if kind == "best":
        assert [row["order"] for row in data["best"]] == [1, 2, 3, 4, 5]
        assert data["best"][-1]["best"] == max(row["value"] for row in data["best"])
    else:
        assert reply["axes"] == ["params.lr", "params.opt", "metrics.val_acc"]
        assert {row["axis"] for row in data["lines"]} == set(reply["axes"])
    chart = (panel.best_chart() if kind == "best" else panel.parallel()).to_altair()
    assert vl_convert.vegalite_to_svg(chart.to_dict()).startswith("<svg")


def test_a_new_trial_changes_the_live_signature(sweep):
    panel = SweepPanel(sweep, live=False)
    before = panel.store_signature()
    sweep.run(objective, n_trials=1)
    assert panel.store_signature() != before
    pushed = []
    panel.send = lambda content, buffers=None: pushed.append(content)
    panel.refresh_from_store()
    assert pushed[0]["type"] == "push" and pushed[0]["topic"] == "sweep"
    assert panel.store_signature() == panel.seen_signature


def test_fallbacks_escape_names_and_values(sweep):
    panel = SweepPanel(sweep, live=False)
    page = panel.fallback_html()
    assert only_chart_images(page) == 2  # best so far and parallel coordinates, drawn offline
    assert "<b>grid" not in page and "&lt;b&gt;grid&lt;/b&gt;" in page
    assert "<i>" not in page and "&lt;i&gt;sgd&lt;/i&gt;" in page
    text = panel.fallback_text()
    assert text.startswith("sweep <b>grid</b> (grid, maximize val_acc): running, 5 trials (5 completed), best")
    assert repr(panel) == text


def test_sweep_show_and_nbtrack_show_open_the_panel(sweep):
    shown = sweep.show(tab="parallel")
    assert isinstance(shown, SweepPanel) and shown.tab == "parallel" and shown.sweep_id == sweep.id
    assert isinstance(nbtrack.show(sweep), SweepPanel)
    # a trial is a run like any other: the run table groups them under their sweep
    table = nbtrack.show(group_by="sweep_id")
    groups = table._view.rows.filter(pl.col("_kind") == "group")
    assert groups["_group"].to_list() == [sweep.name] and groups["_group_count"].to_list() == [5]
    assert groups["_group_key"].to_list() == [sweep.id]  # the header reads the name; the id keys it
