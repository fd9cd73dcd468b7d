"""The compare, lineage and sweep panels as a person sees them: a real JupyterLab (and Notebook 7)
on loopback, Debian's Chromium driven by Playwright, real kernels, real stores. One server and
one browser for the whole module; each test opens its own notebook in a fresh page, and no test
may open a dialog (an injected ``alert``) or ask for anything off this machine.

Screenshots go to ``tests/output/screenshots/`` (compare-*, lineage-*, sweep-*), figures to
``tests/output/ui-figures.json``; assertions are about what is on screen, never about times.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import nbtrack

from browser import record, setup_cell, shoot

pytestmark = pytest.mark.browser


# ---------------------------------------------------------------------- compare
def compare_cells(folder: Path) -> list[str]:
    run = [
        "%track start cmp --name {name}",
        "lr = {lr}\nepochs = 3\n%track params lr epochs",
        "open('data.csv', 'w').write('x\\n' + '1\\n' * {rows})\nnbtrack.use_input('data.csv')",
        "for s in range(epochs):\n    nbtrack.log(loss=1 / (1 + s * lr * 100), step=s)",
        "%track stop",
    ]
    cells = ["%load_ext nbtrack"]
    cells += [c.format(name="base", lr="0.001", rows=3) for c in run]
    cells += [c.format(name="tuned", lr="0.01", rows=4) for c in run]
    cells.append("panel = nbtrack.compare(['base', 'tuned'])\npanel")
    return cells


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_compare_highlights_a_differing_param_and_shows_a_code_diff(page, store, lab, tmp_path, dark):
    theme = "dark" if dark else "light"
    name = f"compare-{theme}.ipynb"
    tab = page(name, [setup_cell(store, tmp_path), *compare_cells(tmp_path)], dark=dark, height=1300)
    tab.run_all()
    tab.page.wait_for_selector(".nbt-compare .nbt-cmp-row", timeout=60_000)
    lr = tab.page.locator(".nbt-cmp-row[data-key='lr']")
    assert "nbt-differs" in lr.get_attribute("class")
    assert lr.locator("td.nbt-changed").inner_text() == "0.01"  # B differs from A
    assert lr.locator("td").nth(0).inner_text() == "0.001"
    epochs = tab.page.locator(".nbt-cmp-row[data-key='epochs']")
    assert "nbt-differs" not in epochs.get_attribute("class") and epochs.locator("td.nbt-changed").count() == 0
    assert tab.page.locator("[data-section='Params'] .nbt-cmp-runname").all_inner_texts() == ["base", "tuned"]
    shoot(tab, f"compare-params-{theme}", ".nbt-compare")

    tab.page.check(".nbt-hide-equal")  # hide what is equal: epochs goes, lr stays
    tab.page.wait_for_selector(".nbt-cmp-row[data-key='epochs']", state="detached", timeout=10_000)
    assert tab.page.is_visible(".nbt-cmp-row[data-key='lr']")
    assert lab.evaluate(name, "panel.hide_equal") is True

    tab.page.click(".nbt-compare .nbt-tab[data-tab='metrics']")
    loss = tab.page.locator(".nbt-cmp-metrics .nbt-cmp-row[data-key='loss']")
    assert "min" in loss.inner_text() and "max" in loss.inner_text()

    tab.page.click(".nbt-compare .nbt-tab[data-tab='diff']")
    tab.page.wait_for_selector(".nbt-cmp-summary li", timeout=30_000)
    summary = tab.page.inner_text(".nbt-cmp-summary")
    assert "code: " in summary and "inputs: data.csv changed" in summary
    changed = tab.page.locator(".nbt-diff-cell-changed", has_text="lr = 0.01")
    assert changed.count() == 1
    deleted = changed.locator(".nbt-diff-del .nbt-diff-text").all_inner_texts()
    added = changed.locator(".nbt-diff-add .nbt-diff-text").all_inner_texts()
    assert deleted == ["lr = 0.001"] and added == ["lr = 0.01"]
    assert changed.locator(".nbt-diff-del .nbt-diff-mark").all_inner_texts() == ["0"]  # 0.001 -> 0.01
    assert tab.page.locator(".nbt-diff-same").count() >= 1  # identical cells folded
    inputs = tab.page.locator("[data-section='Inputs'] tr[data-path='data.csv']")
    assert "changed" in inputs.inner_text()
    shoot(tab, f"compare-diff-{theme}", ".nbt-compare")

    tab.page.click(".nbt-compare .nbt-tab[data-tab='params']")
    tab.page.click("[data-section='Params'] .nbt-cmp-runname >> text=tuned")  # a run's name opens its page below
    tab.page.wait_for_selector(".nbt-details .nbt-run-page", timeout=10_000)
    assert tab.page.inner_text(".nbt-details .nbt-runname") == "tuned"


# ---------------------------------------------------------------------- lineage
def lineage_store(folder: Path) -> dict[str, str]:
    """prep: data -> clean; train: clean -> model; evaluate: model -> report; and an unrelated
    run that read the same data and wrote something else."""
    def write(name: str, text: str) -> Path:
        path = folder / name
        path.write_text(text)
        return path

    ids = {}
    data = write("data.csv", "a,b\n1,2\n")
    with nbtrack.start_run("lin", name="prep") as run:
        run.use_input(data)
        run.log_output(write("clean.csv", "a,b\n1,2\n3,4\n"))
        ids["prep"] = run.id
    with nbtrack.start_run("lin", name="train") as run:
        run.use_input(folder / "clean.csv")
        run.log_output(write("model.pt", "weights"))
        ids["train"] = run.id
    with nbtrack.start_run("lin", name="evaluate") as run:
        run.use_input(folder / "model.pt")
        run.log_output(write("report.json", "{}"))
        ids["evaluate"] = run.id
    with nbtrack.start_run("lin", name="side-branch") as run:
        run.use_input(data)
        run.log_output(write("other.csv", "other"))
        ids["side-branch"] = run.id
    return ids


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_lineage_graph_has_the_nodes_and_a_click_focuses_one(page, store, lab, tmp_path, dark, monkeypatch):
    theme = "dark" if dark else "light"
    monkeypatch.chdir(tmp_path)
    ids = lineage_store(tmp_path)
    name = f"lineage-{theme}.ipynb"
    tab = page(name, [setup_cell(store, tmp_path), "lin = nbtrack.lineage('data.csv')\nlin"], dark=dark)
    tab.run_all()
    tab.page.wait_for_selector(".nbt-lin-node", timeout=60_000)
    runs = tab.page.locator(".nbt-lin-node[data-kind='run']")
    files = tab.page.locator(".nbt-lin-node[data-kind='file']")
    assert sorted(runs.locator(".nbt-lin-label").all_text_contents()) == ["evaluate", "prep", "side-branch", "train"]
    assert sorted(files.locator(".nbt-lin-label").all_text_contents()) == ["clean.csv", "data.csv", "model.pt", "other.csv", "report.json"]
    assert tab.page.locator(".nbt-lin-edge").count() == 8
    assert tab.page.locator(".nbt-lin-target .nbt-lin-label").text_content() == "data.csv"
    # runs are boxes (rect), file versions document shapes (path): drawn differently
    assert runs.first.locator("rect.nbt-lin-shape").count() == 1 and files.first.locator("path.nbt-lin-shape").count() == 1
    x = {t: tab.page.locator(f".nbt-lin-node[data-id='{ids[t]}']").bounding_box()["x"] for t in ("prep", "train", "evaluate")}
    assert x["prep"] < x["train"] < x["evaluate"]  # left to right
    shoot(tab, f"lineage-{theme}", ".nbt-lineage")

    tab.page.hover(".nbt-lin-node[data-kind='file'] >> text=model.pt")
    tab.page.wait_for_selector(".nbt-lin-card:not([hidden])", timeout=5_000)
    card = tab.page.inner_text(".nbt-lin-card")
    model_sha = nbtrack.get_run(ids["train"])["outputs"][0]["sha256"]
    assert "model.pt" in card and model_sha in card and "7 B" in card and "first seen" in card

    tab.page.click(f".nbt-lin-node[data-id='{ids['train']}']")  # focus train: up- and downstream stay
    tab.page.wait_for_selector(".nbt-lin-node.nbt-lin-focus", timeout=5_000)
    dim = tab.page.locator(".nbt-lin-node.nbt-lin-dim .nbt-lin-label").all_text_contents()
    assert sorted(dim) == ["other.csv", "side-branch"]
    assert "1 run upstream, 1 downstream" in tab.page.inner_text(".nbt-lin-focustext")
    assert lab.evaluate(name, "lin._panel.focus") == ids["train"]
    shoot(tab, f"lineage-focused-{theme}", ".nbt-lineage")
    tab.page.click(".nbt-lin-open")  # the run node opens its run page
    tab.page.wait_for_selector(".nbt-details .nbt-run-page", timeout=10_000)
    assert tab.page.inner_text(".nbt-details .nbt-runname") == "train"
    tab.page.click(".nbt-lin-clear")
    tab.page.wait_for_function("() => !document.querySelector('.nbt-lin-node.nbt-lin-dim')", timeout=5_000)


def sweep_like_store(folder: Path) -> str:
    """200 nodes as a tuning project makes them: raw data cleaned and split, 89 trials each
    reading the split and writing a model, 8 evaluations each reading a dozen models."""
    def write(name: str, text: str) -> Path:
        path = folder / name
        path.write_text(text)
        return path

    with nbtrack.start_run("tune", name="clean") as run:
        run.use_input(write("raw.csv", "raw"))
        run.log_output(write("clean.csv", "clean"))
    with nbtrack.start_run("tune", name="split") as run:
        run.use_input(folder / "clean.csv")
        run.log_output(write("train.csv", "train"))
        run.log_output(write("val.csv", "val"))
    models = []
    for i in range(89):
        with nbtrack.start_run("tune", name=f"trial-{i:02d}") as run:
            run.use_input(folder / "train.csv")
            run.use_input(folder / "val.csv")
            models.append(write(f"model-{i:02d}.pt", f"weights {i}"))
            run.log_output(models[-1])
    for k in range(8):
        with nbtrack.start_run("tune", name=f"evaluate-{k}") as run:
            for m in models[k * 11:(k + 1) * 11 + 1]:
                run.use_input(m)
            run.log_output(write(f"report-{k}.json", f"report {k}"))
    return "raw.csv"


def test_a_two_hundred_node_lineage_stays_readable(page, store, lab, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    target = sweep_like_store(tmp_path)
    tab = page("lineage-200.ipynb", [setup_cell(store, tmp_path), f"lin = nbtrack.lineage({target!r})\nlin"])
    started = tab.run_all()
    tab.page.wait_for_function("() => document.querySelectorAll('.nbt-lin-node').length === 200", timeout=60_000)
    tab.page.wait_for_selector(".nbt-lin-viewport[data-ready='1']", timeout=10_000)
    drawn = time.perf_counter() - started
    # legible at the first view: boxes at 70% of their size or more, none overlapping on screen
    zoom = int(tab.page.inner_text(".nbt-lin-zoomtext").rstrip("%"))
    assert zoom >= 70
    boxes = tab.page.eval_on_selector_all(".nbt-lin-node", "els => els.map(e => { const r = e.getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; })")
    assert min(w for _, _, w, _ in boxes) >= 0.7 * 184 - 1, min(w for _, _, w, _ in boxes)
    boxes.sort()
    for i, (x, y, w, hh) in enumerate(boxes):
        for x2, y2, _, _ in boxes[i + 1:]:
            if x2 >= x + w:
                break
            assert abs(y2 - y) >= hh, "two nodes overlap on screen"
    assert tab.page.is_visible(".nbt-lin-mini")  # an overview of what is out of view
    shoot(tab, "lineage-200-nodes", ".nbt-lineage")
    tab.page.fill(".nbt-lin-search", "trial-50")
    tab.page.press(".nbt-lin-search", "Enter")
    tab.page.wait_for_selector(".nbt-lin-node.nbt-lin-focus", timeout=5_000)
    focused = tab.page.locator(".nbt-lin-node.nbt-lin-focus").bounding_box()
    view = tab.page.locator(".nbt-lin-viewport").bounding_box()
    assert view["x"] <= focused["x"] and focused["x"] + focused["width"] <= view["x"] + view["width"] + 1
    assert view["y"] <= focused["y"] and focused["y"] + focused["height"] <= view["y"] + view["height"] + 1
    assert "trial-50: 2 runs upstream, 1 downstream" in tab.page.inner_text(".nbt-lin-focustext")
    shoot(tab, "lineage-200-nodes-focused", ".nbt-lineage")
    figures = lab.evaluate("lineage-200.ipynb", "(lambda p: {'layout_s': p['layout_s'], 'bytes': len(__import__('json').dumps(p))})"
                           "(__import__('nbtrack.ui.lineage_panel', fromlist=['x']).graph_payload(lin))")
    record(lineage_200_nodes_run_to_drawn_s=round(drawn, 3), lineage_200_nodes_layout_in_kernel_s=figures["layout_s"],
           lineage_200_nodes_payload_bytes=figures["bytes"])


# ---------------------------------------------------------------------- hostile strings
def test_hostile_run_names_metric_keys_and_file_names_fire_nothing(page, store, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    evil_file = tmp_path / "<svg onload=alert(3)>.csv"
    evil_file.write_text("x\n")
    made = []
    for i, name in enumerate(["<img src=x onerror=alert(1)>", "<script>alert(2)</script>"]):
        with nbtrack.start_run("<b>exp</b>", name=name, params={"<i>k</i>": f"<img src=y onerror=alert({i + 5})>"}) as run:
            run.use_input(evil_file)
            run.log({"<img src=z onerror=alert(4)>": float(i)}, step=0)
            run.log_metadata({"<script>m</script>": i})
            made.append(run.id)
    tab = page("hostile-compare.ipynb", [
        setup_cell(store, tmp_path), f"nbtrack.compare({made!r})", f"nbtrack.lineage({made[0]!r})"])
    tab.run_all()
    tab.page.wait_for_selector(".nbt-compare .nbt-cmp-row", timeout=60_000)
    tab.page.wait_for_selector(".nbt-lin-node", timeout=60_000)
    names = tab.page.locator("[data-section='Params'] .nbt-cmp-runname").all_inner_texts()
    assert names == ["<img src=x onerror=alert(1)>", "<script>alert(2)</script>"]
    assert tab.page.inner_text(".nbt-cmp-row[data-key='<i>k</i>'] td.nbt-changed") == "<img src=y onerror=alert(6)>"
    tab.page.click(".nbt-compare .nbt-tab[data-tab='metrics']")
    assert tab.page.inner_text(".nbt-cmp-metrics .nbt-cmp-key.nbt-metric-key") == "<img src=z onerror=alert(4)>"
    tab.page.click(".nbt-compare .nbt-tab[data-tab='diff']")
    tab.page.wait_for_selector(".nbt-cmp-summary", timeout=30_000)
    nodes = tab.page.locator(".nbt-lin-node")
    labels = sorted(nodes.nth(i).get_attribute("aria-label") for i in range(nodes.count()))
    assert labels == ["file <svg onload=alert(3)>.csv", "run <img src=x onerror=alert(1)>"]
    assert "<svg onload=alert(3)>.…" in tab.page.locator(".nbt-lin-label").all_text_contents()  # shortened, as text
    tab.page.hover(".nbt-lin-node[data-kind='file']")
    assert "<svg onload=alert(3)>.csv" in tab.page.inner_text(".nbt-lin-card")
    # nothing a user wrote became an element
    assert tab.page.locator(".nbtrack-root img, .nbtrack-root script, .nbtrack-root svg[onload], .nbtrack-root i, .nbtrack-root b").count() == 0
    shoot(tab, "compare-lineage-hostile")


def test_notebook_7_shows_compare_and_lineage(page, store, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ids = lineage_store(tmp_path)
    tab = page("nb7-compare.ipynb", [setup_cell(store, tmp_path),
                                     f"nbtrack.compare({[ids['prep'], ids['train']]!r})", "nbtrack.lineage('train')"], app="notebook")
    tab.page.click(".jp-Notebook .jp-Cell >> nth=0")
    for _ in range(3):
        tab.page.keyboard.press("Shift+Enter")
    tab.page.wait_for_selector(".nbt-compare .nbt-cmp-row", timeout=60_000)
    tab.page.wait_for_selector(".nbt-lin-node", timeout=60_000)
    assert tab.page.locator("[data-section='Run'] .nbt-cmp-runname").all_inner_texts() == ["prep", "train"]
    assert tab.page.locator(".nbt-lin-node").count() == 7  # train: clean.csv <- prep <- data.csv, model.pt -> evaluate -> report
    shoot(tab, "notebook7-compare-lineage")


# ---------------------------------------------------------------------- charts
def six_runs() -> list[str]:
    ids = []
    for i, (lr, opt) in enumerate([(1e-4, "sgd"), (1e-3, "sgd"), (1e-2, "sgd"), (1e-4, "adam"), (1e-3, "adam"), (1e-2, "adam")]):
        with nbtrack.start_run("charts", name=f"r{i}-{opt}", params={"lr": lr, "opt": opt, "layers": 4}) as run:
            for step in range(50):
                run.log({"loss": (1 + i) / (1 + step * lr * 100), "val_acc": 0.5 + 0.07 * i * step / 49}, step=step)
            ids.append(run.id)
    return ids


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_compare_charts_draw_parallel_coordinates_a_scatter_and_overlaid_curves(page, store, lab, dark):
    theme = "dark" if dark else "light"
    ids = six_runs()
    name = f"compare-charts-{theme}.ipynb"
    tab = page(name, [setup_cell(store), f"panel = nbtrack.compare({ids!r}, tab='charts', objective='val_acc')\npanel"],
               dark=dark, height=1500)
    tab.run_all()
    for kind in ("parallel", "scatter", "curves"):
        tab.page.wait_for_selector(f".nbt-chart-box[data-chart='{kind}'][data-state='drawn']", timeout=60_000)
    parallel = tab.page.locator(".nbt-chart-box[data-chart='parallel']")
    assert parallel.locator("svg").count() >= 1
    # one line per run across lr, opt and the objective (layers is the same in all: left out)
    assert parallel.locator("path[aria-roledescription='line mark']").count() == 6
    assert tab.page.locator(".nbt-chart-box[data-chart='scatter'] path[aria-roledescription='circle']").count() == 6
    curves = tab.page.locator(".nbt-chart-box[data-chart='curves']")
    assert sorted(curves.locator(".nbt-legend .nbt-legend-name").all_inner_texts()) == sorted(f"r{i}-{o}" for i, o in enumerate(["sgd"] * 3 + ["adam"] * 3))
    shoot(tab, f"compare-charts-{theme}", ".nbt-compare")
    tab.page.select_option(".nbt-chart-section[data-section='parallel'] select", "metrics.loss")
    tab.page.wait_for_selector(".nbt-chart-box[data-chart='parallel'][data-state='drawn']", timeout=30_000)
    assert lab.evaluate(name, "panel.objective") == "metrics.loss"
    assert lab.evaluate(name, "panel.parallel().meta['axes']") == ["params.lr", "params.opt", "metrics.loss"]


# ---------------------------------------------------------------------- sweeps
def grid_sweep(n: int = 6):
    sw = nbtrack.sweep("lr-grid", strategy="grid", objective="val_acc", direction="maximize",
                       parameters={"lr": {"values": [1e-4, 1e-3, 1e-2]}, "opt": {"values": ["adam", "sgd"]}, "bs": {"values": [16, 32]}})

    def train(params, trial):
        value = 0.9 - abs(params["lr"] - 1e-3) * 30 - (0.05 if params["opt"] == "sgd" else 0) + params["bs"] / 1000
        for step in range(3):
            trial.log({"val_acc": value * (step + 1) / 3}, step=step)
        return {"val_acc": value}

    sw.run(train, n_trials=n)
    return sw, train


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_sweep_panel_shows_trials_best_so_far_and_parallel_coordinates_live(page, store, lab, dark):
    theme = "dark" if dark else "light"
    sw, train = grid_sweep()
    name = f"sweep-{theme}.ipynb"
    tab = page(name, [setup_cell(store), f"sw = nbtrack.sweep(id={sw.id!r})\npanel = sw.show()\npanel",
                      "nbtrack.show(group_by='sweep_id')"], dark=dark, height=1200)
    tab.run_all()
    tab.page.wait_for_selector(".nbt-sweep .nbt-sweep-trial", timeout=60_000)
    assert tab.page.locator(".nbt-sweep-trial").count() == 6
    head = tab.page.inner_text(".nbt-sweep-head")
    assert "lr-grid" in head and "grid" in head and "maximize val_acc" in head and "6 of 12 trials" in head
    best = sw.best
    row = tab.page.locator(".nbt-sweep-besttrial")
    assert row.count() == 1 and best["run_name"] in row.inner_text()
    tab.page.click(".nbt-sweep-th[data-col='value']")  # sort by the objective, then reversed
    tab.page.click(".nbt-sweep-th[data-col='value']")
    assert tab.page.locator(".nbt-sweep-trial").first.get_attribute("class").endswith("nbt-sweep-besttrial")
    shoot(tab, f"sweep-trials-{theme}", ".nbt-sweep")
    # the run table groups a sweep's trials under it
    tab.page.wait_for_selector(".nbt-grouprow", timeout=60_000)
    header = tab.page.inner_text(".nbt-grouprow >> nth=0")
    assert sw.name in header and "6 runs" in header  # headed by the sweep's name
    assert tab.page.get_attribute(".nbt-grouprow >> nth=0", "data-group") == sw.id

    # live: two more trials from this process show up without re-running the cell
    sw.run(train, n_trials=2)
    tab.page.wait_for_function("() => document.querySelectorAll('.nbt-sweep-trial').length === 8", timeout=30_000)
    assert "8 of 12 trials" in tab.page.inner_text(".nbt-sweep-head")

    tab.page.click(".nbt-sweep .nbt-tab[data-tab='best']")
    tab.page.wait_for_selector(".nbt-sweep .nbt-chart-box[data-chart='best'][data-state='drawn'] svg", timeout=60_000)
    assert tab.page.locator(".nbt-chart-box[data-chart='best'] path[aria-roledescription='circle']").count() == 8
    shoot(tab, f"sweep-best-{theme}", ".nbt-sweep")
    tab.page.click(".nbt-sweep .nbt-tab[data-tab='parallel']")
    tab.page.wait_for_selector(".nbt-sweep .nbt-chart-box[data-chart='parallel'][data-state='drawn'] svg", timeout=60_000)
    assert tab.page.locator(".nbt-chart-box[data-chart='parallel'] path[aria-roledescription='line mark']").count() == 8
    shoot(tab, f"sweep-parallel-{theme}", ".nbt-sweep")
    assert lab.evaluate(name, "panel.tab") == "parallel"

    tab.page.click(".nbt-sweep .nbt-tab[data-tab='trials']")
    tab.page.click(f".nbt-sweep-run >> text={best['run_name']}")  # a trial opens its run page
    tab.page.wait_for_selector(".nbt-sweep + .nbt-details .nbt-run-page", timeout=10_000)
    assert tab.page.inner_text(".nbt-details .nbt-runname") == best["run_name"]
