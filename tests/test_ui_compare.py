"""The compare panel's logic on real runs in a real store: params/metadata differences, the
metric summary, the cell-by-cell code diff (runs recorded by a real IPython shell), the
environment diff (packages, inputs by content hash, git), and the panel's requests."""

from __future__ import annotations

import io
import json

import polars as pl
import pytest

import nbtrack
from nbtrack.ui import compare_data, compare_diff
from nbtrack.ui.compare import ComparePanel
from nbtrack.ui.compare_data import CompareError

from panel_wire import Wire, only_chart_images

pytestmark = pytest.mark.backends  # the panels read a bucket as they read a folder


def layout():
    from nbtrack.active import layout_for

    return layout_for(None, create=False)


@pytest.fixture
def three(store):
    made = []
    for i, (lr, opt) in enumerate([(1e-3, "adam"), (1e-3, "sgd"), (0.001, "adam")]):
        with nbtrack.start_run("cmp", name=f"run-{i}", tags=["a"] if i else ["a", "b"],
                               params={"lr": lr, "opt": {"name": opt}, "epochs": 3, "layers": [64, 64]}) as run:
            run.log_metadata({"hw": {"gpu": "A100" if i < 2 else "H100"}, "seed": 7})
            for step, loss in enumerate([1.0, 0.5 - i / 10, 0.25 + i / 10]):
                run.log({"loss": loss}, step=step)
            if i == 1:
                run.log({"acc": 0.9}, step=2)
            made.append(run.id)
    return made


def by_key(rows):
    return {r["key"]: r for r in rows}


def test_params_that_differ_are_marked_against_the_first_run(three):
    logs = compare_data.logs(layout(), three)
    params = by_key(compare_data.sections(logs)["params"])
    assert params["opt.name"]["differs"] and params["opt.name"]["changed"] == [False, True, False]
    assert params["opt.name"]["values"] == ["adam", "sgd", "adam"]
    # 1e-3 and 0.001 are one value; equal lists are equal; an int and a whole float too
    assert not params["lr"]["differs"] and not params["layers"]["differs"] and not params["epochs"]["differs"]
    meta = by_key(compare_data.sections(logs)["metadata"])
    assert meta["hw.gpu"]["changed"] == [False, False, True] and not meta["seed"]["differs"]
    run = by_key(compare_data.sections(logs)["run"])
    assert run["tags"]["values"] == ["a, b", "a", "a"] and run["tags"]["changed"] == [False, True, True]
    assert not run["experiment"]["differs"]


def test_a_key_one_run_lacks_is_a_difference():
    rows = by_key(compare_data.rows([{"x": 1, "y": None}, {"x": 1.0}]))
    assert not rows["x"]["differs"]
    assert rows["y"]["differs"] and rows["y"]["present"] == [True, False]


def test_metric_summary_has_last_min_max_per_run(three):
    summary = by_key(compare_data.metric_summary(layout(), three))
    loss = summary["loss"]
    assert [c["last"] for c in loss["runs"]] == pytest.approx([0.25, 0.35, 0.45])
    assert [c["min"] for c in loss["runs"]] == pytest.approx([0.25, 0.35, 0.3])
    assert [c["max"] for c in loss["runs"]] == [1.0, 1.0, 1.0]
    assert [c["count"] for c in loss["runs"]] == [3, 3, 3] and loss["differs"]
    assert summary["acc"]["runs"][0] is None and summary["acc"]["runs"][1]["last"] == 0.9


def test_compare_refuses_nothing_and_resolves_names_and_frames(three):
    with pytest.raises(CompareError, match="at least one run"):
        compare_data.logs(layout(), [])
    logs = compare_data.logs(layout(), ["run-2", three[0], "run-2"])
    assert [log["name"] for log in logs] == ["run-2", "run-0"]  # each once, in the order given
    frame = nbtrack.runs(where="params.opt.name == 'adam'")
    assert {log["name"] for log in compare_data.logs(layout(), frame)} == {"run-0", "run-2"}
    with pytest.raises(nbtrack.errors.NbtrackError):
        compare_data.logs(layout(), ["no-such-run"])


# ---------------------------------------------------------------------- code diff
def test_line_diff_marks_removed_added_and_changed_characters():
    lines = compare_diff.line_diff("a = 1\nlr = 0.001\nfit()", "a = 1\nlr = 0.01\nfit()\nsave()")
    ops = [(d["op"], d.get("text")) for d in lines]
    assert ops == [("=", "a = 1"), ("-", "lr = 0.001"), ("+", "lr = 0.01"), ("=", "fit()"), ("+", "save()")]
    old, new = lines[1], lines[2]
    assert [old["text"][s:e] for s, e in old["spans"]] == ["0"]  # 0.001 -> 0.01: one 0 gone
    assert new["spans"] == []
    assert lines[4]["b"] == 4 and lines[1]["a"] == 2


def test_long_unchanged_stretches_are_folded_with_context():
    a = "\n".join(f"line {i}" for i in range(40))
    b = a.replace("line 20", "line twenty")
    lines = compare_diff.line_diff(a, b)
    folds = [d for d in lines if d["op"] == "…"]
    assert [d["n"] for d in folds] == [17, 16]  # 20 before, 19 after, 3 kept beside the change
    assert sum(1 for d in lines if d["op"] == "=") == 6


def test_cells_align_by_hash_and_pair_similar_ones():
    def cell(src):
        from nbtrack.capture.cells import sha256_text

        return {"source": src, "sha256": sha256_text(src), "execution_count": 1}

    a = [cell("import x"), cell("lr = 0.1\nfit(lr)"), cell("plot()"), cell("old_stuff()")]
    b = [cell("import x"), cell("lr = 0.01\nfit(lr)"), cell("print('new cell')"), cell("plot()")]
    out = compare_diff.cells_diff(a, b)
    assert [c["kind"] for c in out] == ["same", "changed", "added", "same", "removed"]
    changed = out[1]["lines"]
    assert [(d["op"], d["text"]) for d in changed] == [("-", "lr = 0.1"), ("+", "lr = 0.01"), ("=", "fit(lr)")]
    assert out[2]["lines"] == [{"op": "+", "text": "print('new cell')", "b": 1}]


def shell_run(shell, name: str, cells: list[str]) -> str:
    shell.run_cell(f"%track start cmp --name {name}", store_history=True)
    for src in cells:
        result = shell.run_cell(src, store_history=True)
        assert result.success, result.error_in_exec
    shell.run_cell("%track stop", store_history=True)
    return nbtrack.get_run(name)["run_id"]


@pytest.fixture
def shell(store):
    from IPython.core.interactiveshell import InteractiveShell

    from nbtrack.capture import ipython as capture

    InteractiveShell.clear_instance()
    sh = InteractiveShell.instance()
    sh.run_cell("%load_ext nbtrack", store_history=True)
    yield sh
    capture.uninstall(sh)
    InteractiveShell.clear_instance()


def test_two_notebook_runs_diff_cell_by_cell_and_by_input_content(shell, tmp_path):
    (tmp_path / "train.csv").write_text("x,y\n1,2\n")
    (tmp_path / "labels.csv").write_text("a\n")
    a = shell_run(shell, "base", [
        "import math\nlr = 0.001",
        "nbtrack.use_input('train.csv'); nbtrack.use_input('labels.csv')",
        "for s in range(2):\n    nbtrack.log(loss=math.exp(-s * lr), step=s)",
    ])
    (tmp_path / "train.csv").write_text("x,y\n1,2\n3,4\n")  # the data changed
    b = shell_run(shell, "tuned", [
        "import math\nlr = 0.01",
        "nbtrack.use_input('train.csv'); nbtrack.use_input('labels.csv')",
        "for s in range(2):\n    nbtrack.log(loss=math.exp(-s * lr), step=s)",
        "print('extra cell')",
    ])
    diff = compare_diff.code_and_env(nbtrack.get_run(a, with_metrics=False), nbtrack.get_run(b, with_metrics=False))
    kinds = [c["kind"] for c in diff["cells"]]
    # the %track start cells differ by the run name; the lr cell changed; an extra cell ran
    assert kinds.count("changed") == 2 and kinds.count("added") == 1 and kinds.count("same") >= 2
    lr = next(c for c in diff["cells"] if c["kind"] == "changed" and any("lr" in d.get("text", "") for d in c["lines"]))
    assert ("-", "lr = 0.001") in [(d["op"], d["text"]) for d in lr["lines"]]
    assert ("+", "lr = 0.01") in [(d["op"], d["text"]) for d in lr["lines"]]
    inputs = {f["path"]: f["change"] for f in diff["env"]["inputs"]}
    assert inputs == {"train.csv": "changed", "labels.csv": "same"}
    assert diff["env"]["same_env"]  # one process, one environment snapshot
    assert diff["env"]["packages"] == []
    assert any(line.startswith("code: 2 cells changed, 1 cell added") for line in diff["summary"])
    assert "inputs: train.csv changed" in diff["summary"]


def test_environment_diff_names_packages_versions_and_git():
    base = {"run_id": "a", "env_sha256": "1" * 64, "env": {
        "packages": {"numpy": "1.26.4", "torch": "2.2.0", "old": "1.0"}, "python": {"implementation": "CPython", "version": "3.11.7"},
        "env_vars": {"CUDA_VISIBLE_DEVICES": "0"}}, "git": {"commit": "abc", "branch": "main", "dirty": False},
        "inputs": [{"path": "d.csv", "sha256": "a" * 64}], "outputs": [{"path": "m.pt", "sha256": "b" * 64}],
        "env_summary": {"host": "box1", "gpus": ["A100"]}}
    other = {"run_id": "b", "env_sha256": "2" * 64, "env": {
        "packages": {"numpy": "2.0.0", "torch": "2.2.0", "new": "0.1"}, "python": {"implementation": "CPython", "version": "3.12.1"},
        "env_vars": {"CUDA_VISIBLE_DEVICES": "1"}}, "git": {"commit": "def", "branch": "main", "dirty": True},
        "inputs": [{"path": "data/d.csv", "sha256": "a" * 64}], "outputs": [{"path": "m.pt", "sha256": "c" * 64}],
        "env_summary": {"host": "box1", "gpus": ["H100"]}}
    env = compare_diff.environment(base, other)
    assert [(p["name"], p["change"]) for p in env["packages"]] == [("new", "added"), ("numpy", "changed"), ("old", "removed")]
    assert env["python"] == {"a": "CPython 3.11.7", "b": "CPython 3.12.1"}
    assert [(g["name"], g["a"], g["b"]) for g in env["git"]] == [("commit", "abc", "def"), ("dirty", False, True)]
    assert [(f["path"], f["change"]) for f in env["inputs"]] == [("d.csv", "moved")]  # same content, new path
    assert [(f["path"], f["change"]) for f in env["outputs"]] == [("m.pt", "changed")]
    assert [m["name"] for m in env["machine"]] == ["gpus"]
    assert env["env_vars"][0]["name"] == "CUDA_VISIBLE_DEVICES"
    text = compare_diff.summary([], env, compare_diff._code(base), compare_diff._code(other))
    assert "git commit: abc → def" in text and "python: CPython 3.11.7 → CPython 3.12.1" in text
    assert any(line.startswith("packages: new — → 0.1, numpy 1.26.4 → 2.0.0, old 1.0 → —") for line in text)


# ---------------------------------------------------------------------- the panel
def test_the_panel_answers_compare_diff_points_and_curves(three):
    panel = ComparePanel(layout(), three)
    wire = Wire(panel)
    reply, _ = wire.ask("compare")
    assert reply["ok"] and [r["name"] for r in reply["runs"]] == ["run-0", "run-1", "run-2"]
    assert by_key(reply["sections"]["params"])["opt.name"]["differs"]
    reply, _ = wire.ask("diff", a=three[0], b=three[1])
    assert reply["ok"] and reply["diff"]["a"] == three[0]
    reply, _ = wire.ask("diff", a=three[0], b="elsewhere")
    assert not reply["ok"] and "among the compared runs" in reply["error"]["message"]
    reply, buffers = wire.ask("points")
    frame = pl.read_ipc_stream(io.BytesIO(buffers[0]))
    assert frame["name"].to_list() == ["run-0", "run-1", "run-2"]
    assert {"params.lr", "params.opt.name", "metrics.loss"} <= set(frame.columns)
    names = [a["name"] for a in reply["axes"]["params"]]
    assert names[0] == "params.opt.name"  # what varies comes first
    reply, _ = wire.ask("chart", kind="curves", key="metrics.loss")
    assert reply["ok"] and reply["key"] == "loss" and reply["datasets"] == ["curves"]
    reply, buffers = wire.ask("chart_data", kind="curves", name="curves")
    curves = pl.read_ipc_stream(io.BytesIO(buffers[0]))
    assert curves.height == 9 and curves["name"].unique().sort().to_list() == ["run-0", "run-1", "run-2"]
    assert panel.pair == three[:2]


def test_fallbacks_escape_user_strings(store):
    for name in ("<img src=x onerror=alert(1)>", "plain"):
        with nbtrack.start_run("x", name=name, params={"<b>k</b>": name}) as run:
            run.log({"<script>m</script>": 1.0 if name == "plain" else 2.0}, step=0)
    panel = ComparePanel(layout(), ["<img src=x onerror=alert(1)>", "plain"])
    page = panel.fallback_html()
    assert only_chart_images(page) == 2  # parallel coordinates and curves, drawn offline
    assert "<img src" not in page and "<script>" not in page and "<b>k" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page and "&lt;script&gt;m&lt;/script&gt;" in page
    text = panel.fallback_text()
    assert "params <b>k</b>: <img src=x onerror=alert(1)> | plain" in text
    assert repr(panel) == text


def test_the_static_form_shows_the_charts_as_pictures(three):
    """Where no widget runs (GitHub, nbviewer) the compare panel's charts are PNGs."""
    assert only_chart_images(ComparePanel(layout(), three).fallback_html()) == 2
    assert only_chart_images(ComparePanel(layout(), three, static=False).fallback_html()) == 0


def test_nbtrack_compare_is_the_public_entry(three):
    panel = nbtrack.compare(three[:2], hide_equal=True)
    assert isinstance(panel, ComparePanel) and panel.hide_equal and panel.run_ids == three[:2]


def test_track_compare_magic_shows_the_panel_and_fails_in_one_line(shell, three):
    from IPython.core.error import UsageError

    magics = shell.user_ns["get_ipython"]().find_line_magic("track")
    panel = magics("compare run-0 run-1 --hide-equal")
    assert isinstance(panel, ComparePanel) and panel.hide_equal
    assert [panel._logs[r]["name"] for r in panel.run_ids] == ["run-0", "run-1"]
    with pytest.raises(UsageError, match="%track compare: .*no-such"):
        magics("compare run-0 no-such")
    with pytest.raises(UsageError, match="the following arguments are required"):
        magics("compare")


def test_what_changed_starts_with_the_params():
    a = {"run_id": "a", "params": {"lr": 0.001, "opt": "adam", "gone": 1, "same": [1, 2]}}
    b = {"run_id": "b", "params": {"lr": 0.01, "opt": "adam", "new": "x", "same": [1, 2.0]}}
    diff = compare_diff.code_and_env(a, b)
    assert [(p["name"], p["change"], p["a"], p["b"]) for p in diff["params"]] == [
        ("gone", "removed", 1, None), ("lr", "changed", 0.001, 0.01), ("new", "added", None, "x")]
    assert diff["summary"][0] == "params: gone 1 → —, lr 0.001 → 0.01, new — → x"


# ---------------------------------------------------------------------- charts
def test_parallel_axes_scale_numbers_log_spread_categories_and_end_with_the_objective():
    from nbtrack.ui import compare_charts

    points = pl.DataFrame({"run_id": ["a", "b", "c"], "name": ["A", "B", "C"],
                           "params.lr": [1e-4, 1e-3, 1e-1], "params.opt": ["sgd", "adam", "sgd"],
                           "params.bs": [16, 32, 64], "metrics.acc": [0.5, 0.7, 0.9]})
    lines, ticks = compare_charts.parallel_frames(points, ["params.lr", "params.opt", "params.bs"], "metrics.acc")
    pos = {(r["run_id"], r["axis"]): r["pos"] for r in lines.iter_rows(named=True)}
    assert pos[("a", "params.lr")] == 0 and pos[("c", "params.lr")] == 1
    assert pos[("b", "params.lr")] == pytest.approx(1 / 3)  # log space: 1e-3 is a third of the way
    assert pos[("a", "params.bs")] == 0 and pos[("b", "params.bs")] == pytest.approx(1 / 3)  # linear
    assert pos[("b", "params.opt")] == 0 and pos[("a", "params.opt")] == 1  # categories: adam, sgd
    assert lines.filter(pl.col("axis") == "metrics.acc")["order"].unique().to_list() == [3]
    assert set(lines["objective"].to_list()) == {0.5, 0.7, 0.9}
    labels = {(t["axis"], t["label"]) for t in ticks.iter_rows(named=True)}
    assert ("params.lr", "0.1 (log)") in labels and ("params.opt", "adam") in labels and ("params.bs", "64") in labels


@pytest.mark.parametrize("kind", ["parallel", "scatter", "curves"])
def test_compare_charts_compile_in_vega_and_come_out_as_altair(three, kind):
    import altair as alt
    import vl_convert

    panel = ComparePanel(layout(), three)
    wire = Wire(panel)
    reply, _ = wire.ask("chart", kind=kind, objective="loss", x="opt.name", y="loss", key="loss")
    assert reply["ok"], reply.get("error")
    names = reply["datasets"]
    data = {}
    for name in names:
        answer, buffers = wire.ask("chart_data", kind=kind, name=name)
        data[name] = pl.read_ipc_stream(io.BytesIO(buffers[0])).to_dicts()
    spec = reply["spec"]
    text = json.dumps(spec)
    assert '"name": "' in text and '"values"' not in text  # the rows come over the comm, not in the spec
    svg = vl_convert.vegalite_to_svg({**spec, "datasets": data, "width": 400})
    assert svg.startswith("<svg")
    chart = {"parallel": lambda: panel.parallel("loss"), "scatter": lambda: panel.scatter("opt.name", "loss"),
             "curves": lambda: panel.curves("loss")}[kind]().to_altair()
    assert isinstance(chart, (alt.Chart, alt.LayerChart))
    inline = json.dumps(chart.to_dict())
    assert "run-0" in inline and "run-2" in inline
    assert vl_convert.vegalite_to_svg(chart.to_dict()).startswith("<svg")


def test_a_chart_without_metrics_says_so(store):
    with nbtrack.start_run("x", name="no-metrics", params={"a": 1}):
        pass
    panel = ComparePanel(layout(), ["no-metrics"])
    reply, _ = Wire(panel).ask("chart", kind="parallel")
    assert not reply["ok"] and "no metrics to chart" in reply["error"]["message"]
