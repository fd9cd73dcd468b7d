"""The charts as a person sees them, in a real JupyterLab (and Notebook 7) with Debian's
Chromium: one line per run, 100 runs × 100,000 steps drawn from a bounded payload, zoom at
full resolution, smoothing and log y, the run table's chart pane, live panels that gain points
while a cell is still training (the first panel on a fresh page), statuses, hostile run names
and metric keys that stay text, light and dark themes, and what ten charts add to a saved
notebook.

One JupyterLab server and one browser for the module (the fixtures of ``conftest``:
widget state saved with the notebook, the worst case). Figures go to
``tests/output/ui-figures.json`` (``record``), screenshots to ``tests/output/screenshots/``
(``chart-*``); assertions are about what is on screen and what crossed the comm, never times.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import nbtrack

from browser import record, setup_cell, shoot
from support import wait_for

pytestmark = pytest.mark.browser

RUNS, STEPS = 100, 100_000
SPIKE = 31_337  # run r has a spike of +5 at step SPIKE + r


@pytest.fixture(scope="module")
def curves_store(tmp_path_factory) -> Path:
    """100 finished runs of 100,000 steps each (10 million points), made by two processes."""
    home = tmp_path_factory.mktemp("curves") / "store"
    code = textwrap.dedent(f"""
        import math, random, sys, nbtrack
        for r in range(int(sys.argv[1]), {RUNS}, 2):
            rng = random.Random(r)
            with nbtrack.start_run("overlay", name=f"run-{{r:03d}}", params={{"lr": 10.0 ** -(r % 4)}}) as run:
                log = run.log
                for s in range({STEPS}):
                    v = (1 + r / {RUNS}) * math.exp(-s / 20000) + rng.random() * 0.05
                    log({{"loss": v + (5.0 if s == {SPIKE} + r else 0.0)}}, step=s)
    """)
    env = dict(os.environ, NBTRACK_HOME=str(home))
    procs = [subprocess.Popen([sys.executable, "-c", code, str(k)], env=env) for k in (0, 1)]  # noqa: S603
    assert [p.wait(timeout=900) for p in procs] == [0, 0]
    return home


def small_runs(n: int = 5, steps: int = 2000, prefix: str = "run") -> list:
    import random

    made = []
    for r in range(n):
        rng = random.Random(r)
        with nbtrack.start_run("small", name=f"{prefix}-{r}", params={"lr": 10.0 ** -r}) as run:
            for s in range(steps):
                run.log({"loss": (1 + r) / (1 + s / 100) + rng.random() * 0.3, "acc": s / steps - r / 20}, step=s)
        made.append(run)
    return made


def start_all(tab) -> float:
    """Run every cell without waiting for them (the command's promise ends with the last cell)."""
    tab.page.click(".jp-Notebook .jp-Cell")
    started = time.perf_counter()
    tab.page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    return started


def running(tab, cell: int) -> bool:
    """Whether the notebook's cell ``cell`` is executing (its prompt reads ``[*]``): the
    server's execution_state is no guide, control-channel requests flip it to idle."""
    prompt = tab.page.locator(f".jp-Notebook .jp-Cell >> nth={cell} >> .jp-InputPrompt").inner_text()
    return prompt.strip().startswith("[*]")


def plot_data(tab, nth: int = 0) -> dict:
    return tab.page.evaluate("n => { const p = document.querySelectorAll('.nbt-plot')[n]; return p ? {...p.dataset} : null; }", nth)


def test_one_hundred_runs_of_100k_steps_draw_from_a_bounded_payload_and_zoom_at_full_resolution(page, curves_store, lab):
    cells = [setup_cell(curves_store) + "\nruns = nbtrack.runs()",
             "warm = nbtrack.plot(runs[:1], 'loss')\nwarm",  # the runtime and altair, once per page and kernel
             "p = nbtrack.plot(runs, 'loss')\np",
             "q = nbtrack.plot(runs, 'loss', static=False)\nq"]  # the same without the PNG for GitHub
    tab = page("overlay100.ipynb", cells)
    tab.page.click(".jp-Notebook .jp-Cell >> nth=0")
    tab.page.keyboard.press("Shift+Enter")
    tab.page.keyboard.press("Shift+Enter")
    tab.page.wait_for_selector(".nbt-plot[data-state=drawn]", timeout=120_000, state="attached")
    started = time.perf_counter()
    tab.page.keyboard.press("Shift+Enter")
    tab.page.wait_for_function("() => document.querySelectorAll('.nbt-plot[data-state=drawn]').length === 2", timeout=120_000)
    cell_to_drawn = time.perf_counter() - started
    shown = plot_data(tab, 1)
    chart = tab.page.locator(".nbt-plot >> nth=1")
    assert chart.locator(".nbt-curve").get_attribute("data-series") == "100"  # one line per run
    assert chart.locator(".nbt-legend-item").count() == 100
    assert chart.locator(".nbt-legend-name >> nth=0").inner_text() == runs_first_name(lab)
    assert "of 10,000,000 points" in chart.locator(".nbt-plot-info").inner_text()
    payload = lab.evaluate("overlay100.ipynb", "p.last_payload_bytes")
    assert payload <= 5_000_000, f"{payload} bytes for 100 runs x 100,000 steps"
    timings = lab.evaluate("overlay100.ipynb", "p.timings")
    started = time.perf_counter()
    tab.page.keyboard.press("Shift+Enter")
    tab.page.wait_for_function("() => document.querySelectorAll('.nbt-plot[data-state=drawn]').length === 3", timeout=120_000)
    no_png_cell_to_drawn = time.perf_counter() - started
    no_png = plot_data(tab, 2)
    chart.scroll_into_view_if_needed()
    shoot(tab, "chart-overlay-100x100k-light")

    # drag across the spikes of the first runs: the kernel sends that range at full resolution
    over = chart.locator(".u-over").bounding_box()
    x_at = lambda step: over["x"] + over["width"] * step / (STEPS - 1)  # noqa: E731
    tab.page.mouse.move(x_at(SPIKE - 400), over["y"] + 20)
    tab.page.mouse.down()
    tab.page.mouse.move(x_at(SPIKE + 600), over["y"] + 40, steps=8)
    tab.page.mouse.up()
    tab.page.wait_for_function("() => document.querySelectorAll('.nbt-plot')[1].dataset.zoomed === 'full'", timeout=60_000)
    lo, hi = lab.evaluate("overlay100.ipynb", "p.x_range")
    assert lo < SPIKE < SPIKE + 99 < hi and hi - lo < 3000
    zoomed = int(plot_data(tab, 1)["points"])
    in_range = lab.evaluate("overlay100.ipynb", "nbtrack.metrics(runs, 'loss').filter("
                            f"__import__('polars').col('step').is_between({lo}, {hi})).height")
    assert zoomed == in_range, "a narrow zoom shows every point"  # few enough: nothing thinned
    over = chart.locator(".u-over").bounding_box()
    tab.page.mouse.move(over["x"] + over["width"] * (SPIKE - lo) / (hi - lo), over["y"] + over["height"] * 0.02)
    tab.page.wait_for_selector(".nbt-plot >> nth=1 >> .nbt-hover:not([hidden])", timeout=10_000)
    first = chart.locator(".nbt-hover-row >> nth=0")
    assert first.locator(".nbt-hover-name").inner_text() in ("run-000", "run-001", "run-002")
    assert float(first.locator(".nbt-hover-y").inner_text()) > 4  # the one-step spike, kept
    shoot(tab, "chart-overlay-zoomed-light")
    tab.page.click(".nbt-plot >> nth=1 >> .nbt-reset-zoom")
    tab.page.wait_for_function("() => document.querySelectorAll('.nbt-plot')[1].dataset.zoomed === ''", timeout=10_000)
    assert lab.evaluate("overlay100.ipynb", "p.x_range") == []
    record(chart_payload_bytes_100x100k=payload, chart_first_draw_ms_100x100k=int(shown["firstDrawMs"]),
           chart_cell_to_drawn_s_100x100k=round(cell_to_drawn, 3), chart_points_drawn_100x100k=int(shown["points"]),
           chart_kernel_timings_100x100k=timings, chart_cell_to_drawn_s_100x100k_no_png=round(no_png_cell_to_drawn, 3),
           chart_first_draw_ms_100x100k_no_png=int(no_png["firstDrawMs"]))


def runs_first_name(server) -> str:
    return server.evaluate("overlay100.ipynb", "nbtrack.get_run(runs['run_id'][0])['name']")


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_smoothing_log_y_relative_time_and_a_bar_chart_follow_the_theme(page, dark):
    small_runs()
    tab = page(f"styled-{'dark' if dark else 'light'}.ipynb", [
        setup_cell(Path(os.environ["NBTRACK_HOME"])),
        "p = nbtrack.plot(nbtrack.runs(), ['loss', 'acc'], smoothing=0.8)\np",
        "bar = nbtrack.plot(nbtrack.runs(), ['loss', 'acc'], kind='bar', summary='best')\nbar",
    ], dark=dark)
    tab.run_all()
    tab.page.wait_for_selector(".nbt-plot[data-state=drawn]", timeout=60_000, state="attached")
    tab.page.wait_for_selector(".nbt-chart[data-state=drawn] svg", timeout=60_000, state="attached")
    plot = tab.page.locator(".nbt-plot")
    assert plot.locator(".nbt-curve").count() == 2
    assert [c.get_attribute("data-series") for c in plot.locator(".nbt-curve").all()] == ["5", "5"]
    assert plot_data(tab)["smooth"] == "1"
    tab.page.check(".nbt-log-y")
    tab.page.locator(".nbt-plot").scroll_into_view_if_needed()
    shoot(tab, f"chart-smoothed-log-{'dark' if dark else 'light'}")
    tab.page.select_option(".nbt-x-mode", "time")  # wall time: uPlot's time axis
    tab.page.wait_for_function("() => document.querySelector('.nbt-plot').dataset.points > 0", timeout=30_000)
    tab.page.select_option(".nbt-x-mode", "relative")
    tab.page.wait_for_function("() => document.querySelector('.nbt-plot').dataset.points > 0", timeout=30_000)
    name = f"styled-{'dark' if dark else 'light'}.ipynb"
    wait_for(lambda: tab.server.evaluate(name, "[p.x, p.log_y, p.smoothing]") == ["relative", True, 0.8],
             timeout=20, what="the kernel to see the settings made in the browser")
    bars = tab.page.locator(".nbt-chart svg .mark-rect path, .nbt-chart svg .mark-rect rect")
    assert bars.count() == 10  # 5 runs x 2 metrics
    background = tab.page.eval_on_selector(".nbt-plot", "el => getComputedStyle(el.closest('.nbt-panel') || el).backgroundColor")
    label = tab.page.eval_on_selector(".nbt-chart svg .role-axis-label text", "el => getComputedStyle(el).fill")
    darkness = sum(int(c) for c in background[background.index("(") + 1:-1].split(",")[:3])
    assert (darkness < 200) == dark, background
    assert label != background
    tab.page.locator(".nbt-chart").scroll_into_view_if_needed()
    shoot(tab, f"chart-bar-{'dark' if dark else 'light'}")


def test_the_run_table_plots_the_selected_runs(page, lab):
    made = small_runs(6)
    tab = page("pane.ipynb", [setup_cell(Path(os.environ["NBTRACK_HOME"])), "table = nbtrack.show()\ntable"])
    tab.run_all()
    tab.page.wait_for_selector(".nbt-datarow", timeout=60_000)
    rows = tab.page.locator(".nbt-datarow")
    rows.nth(0).click()
    rows.nth(2).click(modifiers=["Control"])
    rows.nth(4).click(modifiers=["Control"])
    tab.page.click(".nbt-plot-selected")
    tab.page.wait_for_selector(".nbt-chart-pane .nbt-plot[data-state=drawn]", timeout=60_000, state="attached")
    curve = tab.page.locator(".nbt-chart-pane .nbt-curve")
    assert curve.get_attribute("data-series") == "3"
    selected = lab.evaluate("pane.ipynb", "table.selected")
    names = {r.id: r.name for r in made}
    assert tab.page.locator(".nbt-chart-pane .nbt-legend-name").all_inner_texts() == [names[i] for i in selected]
    rows.nth(1).click(modifiers=["Control"])  # the pane follows the selection
    tab.page.wait_for_function("() => document.querySelector('.nbt-chart-pane .nbt-curve')?.dataset.series === '4'",
                               timeout=30_000)
    tab.page.select_option(".nbt-metric-pick", "acc")
    tab.page.wait_for_selector(".nbt-chart-pane .nbt-curve[data-key=acc]", timeout=30_000)
    tab.page.locator(".nbt-chart-pane").scroll_into_view_if_needed()
    shoot(tab, "chart-run-table-pane-light")


STEPS_LIVE = 300  # 0.05 s apart: 15 s of training, long enough on a loaded machine
LIVE_CELLS = [
    # the first panel of a fresh page, shown while this very cell trains
    "run = nbtrack.start_run('live', name='mid-cell')\nrun.live('loss')\n"
    f"for i in range({STEPS_LIVE}):\n    run.log({{'loss': 1 / (i + 1), 'acc': i / 300}}, step=i)\n    time.sleep(0.05)\n"
    "run.end('failed')",
    "%load_ext nbtrack",
    "%track start magic --live --name from-the-magic",
    f"for i in range({STEPS_LIVE}):\n    nbtrack.log(loss=2 / (i + 1), step=i)\n    time.sleep(0.05)",
    "%track stop",
]


def test_live_panels_gain_points_while_the_cell_trains_and_show_the_status(page):
    tab = page("live-charts.ipynb", [setup_cell(Path(os.environ["NBTRACK_HOME"])) + "\nimport time", *LIVE_CELLS])
    started = start_all(tab)
    first_live = None
    seen = set()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # watching the panel while the kernel is busy with the loop
        data = plot_data(tab, 0)
        if data and data.get("state") == "drawn" and running(tab, 1):
            seen.add(int(data["points"]))
            first_live = first_live or time.perf_counter() - started
        if len(seen) >= 4:
            break
        tab.page.wait_for_timeout(300)
    assert len(seen) >= 4 and min(seen) < STEPS_LIVE, f"the live panel did not grow mid-cell: {sorted(seen)}"
    shoot(tab, "chart-live-mid-cell-light")
    tab.page.wait_for_function("() => document.querySelector('.nbt-plot .nbt-legend')?.innerText.includes('failed')",
                               timeout=60_000)
    seen2 = set()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        data = plot_data(tab, 1)
        if data and data.get("state") == "drawn" and running(tab, 4):
            seen2.add(int(data["points"]))
        if len(seen2) >= 3:
            break
        tab.page.wait_for_timeout(300)
    assert len(seen2) >= 3, f"the --live panel did not grow: {sorted(seen2)}"
    tab.page.wait_for_function("() => document.querySelectorAll('.nbt-plot')[1]?.querySelector('.nbt-legend')?.innerText.includes('completed')",
                               timeout=60_000)
    tab.page.wait_for_function(f"() => document.querySelectorAll('.nbt-plot')[1].dataset.points === '{STEPS_LIVE}'",
                               timeout=30_000)
    assert plot_data(tab, 0)["points"] == str(STEPS_LIVE)  # every point, once the run ended
    shoot(tab, "chart-live-ended-light")
    record(chart_live_first_points_s_after_run_all=round(first_live, 3))


HOSTILE_NAME = "<img src=x onerror=alert(1)>"
HOSTILE_KEY = "<script>alert(2)</script>"


def test_hostile_run_names_and_metric_keys_stay_text(page):
    for i, name in enumerate([HOSTILE_NAME, '"); alert(3); ("', "{{alert(4)}}"]):
        with nbtrack.start_run("<b>x</b>", name=name) as run:
            for s in range(50):
                run.log({HOSTILE_KEY: s * (i + 1), "a.b[0]": -s}, step=s)
    tab = page("hostile-charts.ipynb", [setup_cell(Path(os.environ["NBTRACK_HOME"])),
                                       f"p = nbtrack.plot(nbtrack.runs(), [{HOSTILE_KEY!r}, 'a.b[0]'])\np",
                                       f"nbtrack.plot(nbtrack.runs(), {HOSTILE_KEY!r}, kind='bar')"])
    tab.run_all()
    tab.page.wait_for_selector(".nbt-plot[data-state=drawn]", timeout=60_000, state="attached")
    tab.page.wait_for_selector(".nbt-chart[data-state=drawn] svg", timeout=60_000, state="attached")
    names = tab.page.locator(".nbt-legend-name").all_inner_texts()
    assert HOSTILE_NAME in names and '"); alert(3); ("' in names
    assert tab.page.locator(".nbt-curve-title").all_inner_texts() == [HOSTILE_KEY, "a.b[0]"]
    assert tab.page.locator(".nbt-curve >> nth=1").get_attribute("data-series") == "3"  # a dotted key is a key
    over = tab.page.locator(".nbt-curve .u-over >> nth=0").bounding_box()
    tab.page.mouse.move(over["x"] + over["width"] * 0.9, over["y"] + 10)
    tab.page.wait_for_selector(".nbt-hover:not([hidden])", timeout=10_000)
    assert HOSTILE_NAME in tab.page.locator(".nbt-hover >> nth=0").inner_text()
    bar = tab.page.locator(".nbt-chart svg .mark-rect path >> nth=0")
    box = bar.bounding_box()
    tab.page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    tab.page.wait_for_selector(".nbt-chart .nbt-hover:not([hidden])", timeout=10_000)
    tip = tab.page.locator(".nbt-chart .nbt-hover").inner_text()
    assert any(n in tip for n in (HOSTILE_NAME, '"); alert(3); ("', "{{alert(4)}}")), tip
    axis = " ".join(tab.page.eval_on_selector_all(".nbt-chart svg text", "els => els.map(e => e.textContent)"))
    assert HOSTILE_NAME in axis or "<img src=x onerror=alert(1)" in axis  # vega may shorten labels
    assert tab.page.locator(".nbtrack-root img, .nbtrack-root script, .nbtrack-root iframe").count() == 0
    shoot(tab, "chart-hostile-strings")


def test_ten_charts_add_little_to_a_saved_notebook(page, lab):
    small_runs()
    cells = [setup_cell(Path(os.environ["NBTRACK_HOME"]))]
    for i in range(10):
        if i % 3 == 2:
            cells.append(f"nbtrack.plot(nbtrack.runs(), ['loss', 'acc'], kind='bar', summary={['last', 'min', 'max'][i % 3]!r})")
        else:
            cells.append(f"nbtrack.plot(nbtrack.runs(), {['loss', 'acc'][i % 2]!r}, smoothing={i / 20})")
    tab = page("ten-charts.ipynb", cells)
    path = lab.root / "ten-charts.ipynb"
    before = path.stat().st_size
    tab.run_all()
    tab.page.wait_for_function("() => document.querySelectorAll('.nbt-plot[data-state=drawn]').length === 7 && "
                               "document.querySelectorAll('.nbt-chart[data-state=drawn]').length === 3", timeout=120_000)
    tab.command("docmanager:save")
    tab.page.wait_for_function("() => !document.querySelector('.jp-mod-dirty')", timeout=30_000)
    saved = json.loads(path.read_text())
    assert "application/vnd.jupyter.widget-state+json" in saved["metadata"].get("widgets", {})  # worst case
    outputs = [o for c in saved["cells"] for o in c.get("outputs", [])]
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 10  # the static pictures
    growth = path.stat().st_size - before
    png = sum(len(o["data"]["image/png"]) for o in outputs if "image/png" in o.get("data", {}))
    record(saved_notebook_growth_bytes_ten_charts=growth, saved_notebook_png_bytes_ten_charts=png)
    assert growth < 2_000_000, f"ten charts added {growth} bytes"  # altair's offline widget: ~9 MB


def test_notebook_7_draws_the_charts(page):
    small_runs(3)
    tab = page("nb7-charts.ipynb", [setup_cell(Path(os.environ["NBTRACK_HOME"])),
                                   "nbtrack.plot(nbtrack.runs(), 'loss')",
                                   "nbtrack.plot(nbtrack.runs(), 'loss', kind='bar')"], app="notebook")
    tab.page.click(".jp-Notebook .jp-Cell >> nth=0")
    for _ in range(3):
        tab.page.keyboard.press("Shift+Enter")
    tab.page.wait_for_selector(".nbt-plot[data-state=drawn]", timeout=60_000, state="attached")
    tab.page.wait_for_selector(".nbt-chart[data-state=drawn] svg", timeout=60_000, state="attached")
    assert tab.page.locator(".nbt-curve").get_attribute("data-series") == "3"
    shoot(tab, "chart-notebook7")
