"""The charts' kernel side on real stores: what a curves answer carries (bounded, spikes kept,
narrow types, zoom at full resolution, x as step / time / relative), the bar chart and the
generic Chart panel (altair specs without inline data, Arrow rows on request, a PNG fallback
and no HTML), the vega bundle sent on request, small widget state, and live feeds from the
flush path (pushes, statuses, bounded series, the inlined runtime swapped for the loader)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import time

import altair as alt
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.ipc as ipc
import pytest
from test_ui_panels import Wire

import nbtrack
from nbtrack import flushing
from nbtrack.ui import bundle, live
from nbtrack.ui.charts import Chart
from nbtrack.ui.plot import MetricPlot

pytestmark = pytest.mark.backends  # the panels read a bucket as they read a folder


def streams(meta, buffers) -> list[pa.Table]:
    """The Arrow streams of a curves answer or live push, split by meta["parts"]."""
    data, out, at = buffers[0], [], 0
    for length in meta["parts"]:
        out.append(ipc.open_stream(pa.BufferReader(data[at:at + length])).read_all())
        at += length
    return out


@pytest.fixture
def noisy(store):
    made = []
    rng = np.random.default_rng(0)
    for r in range(30):
        with nbtrack.start_run("noisy", name=f"noisy-{r:02d}") as run:
            values = rng.random(20_000)
            values[7_000 + r] = 100.0  # one spike per run
            for s, v in enumerate(values):
                run.log({"loss": float(v)}, step=s)
        made.append(run)
    return made


def test_a_curves_answer_is_bounded_typed_narrow_and_keeps_every_spike(noisy):
    plot = nbtrack.plot(noisy, "loss", static=False)
    meta, buffers = Wire(plot).ask("curves", x="step", buckets=900)
    assert meta["ok"] and len(meta["series"]) == 30 and meta["x_type"] == "int32"
    points, columns = streams(meta, buffers)
    assert points.schema.field("y").type == pa.float32() and points.schema.field("x").type == pa.int32()
    assert sum(s["points"] for s in meta["series"]) == points.num_rows
    assert sum(s["columns"] for s in meta["series"]) == columns.num_rows
    assert all(s["points"] <= 4 * 900 and s["columns"] <= 900 and s["raw"] == 20_000 for s in meta["series"])
    bound = 30 * (4 * 900 * 8 + 900 * 12) + 4096
    assert len(buffers[0]) <= bound, f"{len(buffers[0])} bytes"
    y = points["y"].to_numpy()
    at = 0
    for s in meta["series"]:
        part = y[at:at + s["points"]]
        assert part.max() == 100.0, f"the spike of {s['name']} was lost"
        at += s["points"]
    assert {s["name"] for s in meta["series"]} == {f"noisy-{r:02d}" for r in range(30)}
    assert {s["status"] for s in meta["series"]} == {"completed"}
    assert columns["count"].to_numpy().sum() == 30 * 20_000  # every point is in some column


def test_a_zoom_comes_back_at_full_resolution_and_other_x_axes(noisy):
    plot = nbtrack.plot(noisy[:3], "loss", static=False)
    wire = Wire(plot)
    meta, buffers = wire.ask("curves", x="step", buckets=900, x_range=[6_990, 7_510])
    points, _ = streams(meta, buffers)
    assert meta["zoomed"] and points.num_rows == 3 * 521  # every point of the range
    assert points["x"].to_numpy().min() >= 6_990 and points["x"].to_numpy().max() <= 7_510
    meta, buffers = wire.ask("curves", x="time", buckets=300)
    points, _ = streams(meta, buffers)
    assert meta["x_type"] == "float32_offset_s" and points.schema.field("x").type == pa.float32()
    stored = nbtrack.metrics(noisy[0], "loss")["time"].dt.epoch("ms")
    assert abs(meta["series"][0]["base"] - stored.min()) < 1  # offsets from the series' first point
    meta, _ = wire.ask("curves", x="relative", buckets=300)
    assert meta["lo"] == 0.0
    bad, _ = wire.ask("curves", x="sideways")
    assert not bad["ok"] and "x must be one of" in bad["error"]["message"]
    bad, _ = wire.ask("curves", x_range=[5, 5])
    assert not bad["ok"] and "hi > lo" in bad["error"]["message"]


def test_the_overlay_as_altair_and_its_static_picture(noisy):
    plot = nbtrack.plot(noisy[:4], "loss", log_y=True)
    chart = plot.to_altair()
    assert isinstance(chart, alt.TopLevelMixin)
    with alt.data_transformers.disable_max_rows():
        spec = chart.to_dict()
    assert spec["encoding"]["y"]["scale"]["type"] == "log"
    assert spec["encoding"]["color"]["scale"]["domain"] == [r.name for r in noisy[:4]]
    assert len(plot.frame()) <= 4 * 4 * 160
    data, _ = plot._repr_mimebundle_()
    assert "text/html" not in data  # where widgets don't run, the picture is the chart
    assert base64.b64decode(data["image/png"]).startswith(b"\x89PNG")
    assert data["text/plain"].startswith("nbtrack plot: loss of noisy-00")
    # the browser's first draw reuses the curves computed for the picture
    meta, buffers = Wire(plot).ask("curves", x="step", buckets=700)
    assert meta["ok"] and meta["buckets"] == 900


def test_a_bar_chart_of_the_last_best_min_and_max_values(store):
    for r, values in enumerate([[3.0, 1.0, 2.0], [0.5, 4.0, 1.5]]):
        with nbtrack.start_run("bars", name=f"bar-{r}") as run:
            for s, v in enumerate(values):
                run.log({"val_loss": v, "acc": v / 10}, step=s)
    runs = nbtrack.runs()
    expected = {"last": [2.0, 1.5], "min": [1.0, 0.5], "max": [3.0, 4.0], "best": [1.0, 0.5]}  # bar-0, bar-1
    for how, values in expected.items():
        bar = nbtrack.plot(runs, "val_loss", kind="bar", summary=how)
        wire = Wire(bar)
        meta, _ = wire.ask("chart")
        assert meta["datasets"] == ["values"] and meta["spec"]["data"] == {"name": "values"}
        assert "datasets" not in meta["spec"] and "values" not in json.dumps(meta["spec"]["encoding"])
        answer, buffers = wire.ask("chart_data", name="values")
        rows = pl.read_ipc_stream(io.BytesIO(buffers[0]))
        assert rows.sort("name")["value"].to_list() == values, how
    best_acc = nbtrack.plot(runs, "acc", kind="bar", summary="best")  # higher is better for acc
    assert sorted(best_acc.data["value"].to_list()) == [0.3, 0.4]
    assert best_acc.to_altair().to_dict()["mark"]["type"] == "bar"
    data, _ = best_acc._repr_mimebundle_()
    assert base64.b64decode(data["image/png"]).startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="summary must be one of"):
        nbtrack.plot(runs, "acc", kind="bar", summary="median")


def test_any_altair_chart_draws_with_its_frame_sent_as_arrow(store):
    frame = pl.DataFrame({"lr": [0.1, 0.01, 0.001] * 3000, "score": np.arange(9000) / 9000,
                          "run": ["<img src=x onerror=alert(1)>"] * 9000})
    panel = Chart(alt.Chart(frame).mark_point().encode(x="lr:Q", y="score:Q", tooltip=["run:N"]))
    wire = Wire(panel)
    meta, _ = wire.ask("chart")
    assert meta["datasets"] == ["nbtrack-data"] and meta["renderer"] == "svg"
    assert "onerror" not in json.dumps(meta["spec"])  # data stays out of the spec (and out of widget state)
    _, buffers = wire.ask("chart_data", name="nbtrack-data")
    assert pl.read_ipc_stream(io.BytesIO(buffers[0])).height == 9000  # no 5,000-row limit
    missing, _ = wire.ask("chart_data", name="nope")
    assert not missing["ok"]
    assert len(json.dumps(panel.get_state())) < 6000


def test_the_vega_bundle_is_sent_on_request_and_plots_keep_small_state(noisy):
    plot = nbtrack.plot(noisy, "loss", static=False)
    wire = Wire(plot)
    plot._receive(plot, {"type": "module", "id": "m1", "name": "charts"}, [])
    content, buffers = wire.push(timeout=1)
    assert content == {"type": "module", "id": "m1", "name": "charts", "ok": True}
    assert hashlib.sha256(buffers[0]).hexdigest() == bundle.manifest()["modules"]["charts"]["sha256"]
    plot._receive(plot, {"type": "module", "id": "m2", "name": "../../etc/passwd"}, [])
    content, buffers = wire.push(timeout=1)
    assert content["ok"] is False and not buffers
    state = plot.get_state()
    assert len(json.dumps(state)) < 6000 and len(state["_esm"]) < 3000


def wait_for(wire, check, timeout: float = 20.0):
    """The next push for which ``check(meta, buffers)`` holds."""
    deadline = time.monotonic() + timeout
    while True:
        meta, buffers = wire.push(timeout=max(0.1, deadline - time.monotonic()))
        if meta.get("type") == "push" and meta.get("topic") == "live" and check(meta, buffers):
            return meta, buffers


def test_a_live_panel_is_fed_from_the_flush_path_until_the_run_ends(store):
    run = nbtrack.start_run("live", name="feeding")
    for s in range(100):
        run.log({"loss": 1 / (s + 1)}, step=s)
    run.flush()
    plot = MetricPlot(run.layout, [run.id], ["loss"], static=False)
    assert plot.live and plot.feed is not None
    assert len(plot._esm) > 100_000 and bundle.manifest()["runtime_sha256"] in plot._esm  # carries the runtime
    wire = Wire(plot)
    meta, buffers = wait_for(wire, lambda m, b: m["kind"] == "snapshot" and m["series"])
    points, _ = streams(meta, buffers)
    assert points["step"].to_pylist() == list(range(100)) and meta["statuses"] == {run.id: "running"}
    for s in range(100, 250):
        run.log({"loss": 1 / (s + 1), "acc": s / 250}, step=s)
    run.flush()
    meta, buffers = wait_for(wire, lambda m, b: any(s["points"] for s in m["series"]) and
                             streams(m, b)[0]["step"].to_numpy().max() == 249)
    assert {s["key"] for s in meta["series"]} == {"loss"}  # the panel's metric only
    run.end("failed")
    meta, _ = wait_for(wire, lambda m, b: m["statuses"] == {run.id: "failed"})
    # the kernel answers again: the widget swaps its runtime for the 1.4 KB loader
    answer, buffers = wire.ask("live")
    assert answer["kind"] == "snapshot" and streams(answer, buffers)[0].num_rows == 250
    assert len(plot._esm) < 3000
    deadline = time.monotonic() + 20
    while plot.feed in live._active:  # the pusher lets go of an ended run's feed
        assert time.monotonic() < deadline
        time.sleep(0.1)  # the pusher thread's own pace
    assert live._on_flush not in flushing.listeners


def test_a_live_series_stays_bounded_however_long_the_run(store):
    run = nbtrack.start_run("live", name="long")
    plot = MetricPlot(run.layout, [run.id], None, static=False)
    wire = Wire(plot)
    values = np.random.default_rng(2).random(300_000)
    values[123_456] = 50.0
    for s, v in enumerate(values):
        run.log({"loss": float(v)}, step=s)
        if s % 50_000 == 0:
            run.flush()
    run.flush()
    meta, buffers = wait_for(wire, lambda m, b: m["kind"] == "snapshot" and m["series"] and
                             streams(m, b)[0]["step"].to_numpy().max() == 299_999)
    points, columns = streams(meta, buffers)
    assert points.num_rows <= live.LOD_POINTS
    assert 50.0 in points["y"].to_pylist()  # the spike, through every compaction
    assert columns["count"].to_numpy().sum() == 300_000
    run.end()


def test_run_live_displays_the_panel(store, monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    run = nbtrack.start_run("live", name="shown")
    assert run.live("loss") is None
    assert isinstance(shown[0], MetricPlot) and shown[0].metrics == ["loss"] and shown[0].live
    run.end()


def test_a_run_training_in_another_process_reloads_the_chart_and_shows_it_crashed(store, spawn):
    proc = spawn("""
        import sys, nbtrack
        run = nbtrack.start_run("elsewhere", name="other-process")
        for s in range(50):
            run.log({"loss": 1 / (s + 1)}, step=s)
        run.flush()
        print("started", flush=True)
        sys.stdin.readline()
        for s in range(50, 80):
            run.log({"loss": 1 / (s + 1)}, step=s)
        run.flush()
        print("logged", flush=True)
        sys.stdin.readline()
    """)
    assert proc.stdout.readline().strip() == "started"
    run_id = nbtrack.runs()["run_id"][0]
    plot = nbtrack.plot(run_id, "loss", static=False, watch_store=True)
    assert not plot.live and plot._elsewhere == [run_id]  # not this process's run: no feed, a watcher
    wire = Wire(plot)
    proc.stdin.write("\n")
    proc.stdin.flush()
    assert proc.stdout.readline().strip() == "logged"
    meta, _ = wire.push()
    assert meta["topic"] == "reload"
    answer, buffers = wire.ask("curves", x="step", buckets=300)
    assert streams(answer, buffers)[0].num_rows == 80
    proc.kill()  # kill -9: the run never ends
    proc.wait(timeout=30)
    deadline = time.monotonic() + 30
    while (plot.names.get(run_id) or {}).get("status") != "crashed":
        assert time.monotonic() < deadline, plot.names
        wire.push(timeout=max(0.1, deadline - time.monotonic()))
    answer, _ = wire.ask("curves", x="step", buckets=300)
    assert answer["series"][0]["status"] == "crashed"
    plot.close()
