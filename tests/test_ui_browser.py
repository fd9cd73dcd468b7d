"""The panels as a person sees them: a real JupyterLab (and Notebook 7) on loopback, Debian's
Chromium driven by Playwright, real kernels, real stores. One server and one browser serve
the whole module; each test opens its own notebook in a fresh page.

Figures (first paint and sort times at 10,000 runs, saved-notebook growth) are written to
``tests/output/ui-figures.json`` and screenshots to ``tests/output/screenshots/``; the
assertions are about what is on screen, never about times.
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

from browser import Page, record, setup_cell, shoot
from support import wait_for

BIG = 10_000

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def big_store(tmp_path_factory) -> Path:
    """10,000 finished runs over 10 experiments, made through the public API by two processes."""
    home = tmp_path_factory.mktemp("big") / "store"
    code = textwrap.dedent(f"""
        import sys, nbtrack
        first = int(sys.argv[1])
        for i in range(first, {BIG}, 2):
            with nbtrack.start_run(f"exp{{i % 10}}", name=f"run-{{i:05d}}", tags=[f"t{{i % 3}}"],
                                   params={{"lr": 10.0 ** -(i % 5), "bs": 2 ** (i % 4 + 4), "seed": i}}) as run:
                run.log({{"loss": 1 / (i + 1), "acc": (i % 100) / 100}}, step=0)
    """)
    env = dict(os.environ, NBTRACK_HOME=str(home))
    procs = [subprocess.Popen([sys.executable, "-c", code, str(k)], env=env) for k in (0, 1)]  # noqa: S603
    assert [p.wait(timeout=600) for p in procs] == [0, 0]
    return home


def first_name(tab: Page) -> str:
    return tab.page.inner_text(".nbt-datarow >> nth=0 >> [data-col='name']")


def wait_first_name(tab: Page, name: str, timeout: float = 10_000) -> None:
    tab.page.wait_for_function(
        "n => document.querySelector('.nbt-datarow [data-col=name]')?.textContent === n", arg=name,
        timeout=timeout)


def test_run_table_over_ten_thousand_runs(page, big_store, lab):
    tab = page("big.ipynb", [setup_cell(big_store), "table = nbtrack.show()\ntable"])
    started = tab.run_all()
    tab.page.wait_for_selector(".nbt-datarow", timeout=60_000)
    first_paint = time.perf_counter() - started
    assert tab.page.inner_text(".nbt-count") == "10,000 runs"
    assert first_name(tab) in ("run-09999", "run-09998")  # newest first (two processes made them)
    # virtualised: a few dozen rows in the DOM, and scrolling to the end shows the oldest run
    assert tab.page.locator(".nbt-datarow").count() < 100
    tab.page.locator(".nbt-scroll").evaluate("el => { el.scrollTop = el.scrollHeight; }")
    tab.page.wait_for_selector(".nbt-datarow[data-index='9999']", timeout=10_000)
    last = tab.page.inner_text(".nbt-datarow[data-index='9999'] [data-col='name']")
    assert last in ("run-00000", "run-00001")
    tab.page.locator(".nbt-scroll").evaluate("el => { el.scrollTop = 0; }")
    shoot(tab, "run-table-10k-light")

    # a header click sorts (ascending, then descending); the kernel sorted all 10,000
    clicked = time.perf_counter()
    tab.page.click(".nbt-hcell[data-col='name']")
    wait_first_name(tab, "run-00000")
    sort_s = time.perf_counter() - clicked
    tab.page.click(".nbt-hcell[data-col='name']")
    wait_first_name(tab, "run-09999")
    assert tab.page.get_attribute(".nbt-hcell[data-col='name']", "aria-sort") == "descending"
    # shift-click adds a second key
    tab.page.click(".nbt-hcell[data-col='experiment']")
    tab.page.click(".nbt-hcell[data-col='params.seed']", modifiers=["Shift"])
    wait_first_name(tab, "run-00000")
    assert tab.page.inner_text(".nbt-hcell[data-col='params.seed'] .nbt-sortmark") == "▲2"

    # typing a filter narrows the rows; a bad one says where it is wrong
    tab.page.fill(".nbt-where", "params.seed < 25 and params.bs == 16")
    tab.page.press(".nbt-where", "Enter")
    tab.page.wait_for_function("() => document.querySelector('.nbt-count').textContent === '7 of 10,000 runs shown'",
                               timeout=10_000)
    assert tab.page.locator(".nbt-datarow").count() == 7
    tab.page.fill(".nbt-where", "params.seed < 25 and params.sed == 16")
    tab.page.press(".nbt-where", "Enter")
    tab.page.wait_for_selector(".nbt-error", timeout=10_000)
    error = tab.page.inner_text(".nbt-error")
    assert "unknown field 'params.sed'" in error and "did you mean params.seed" in error
    caret = tab.page.inner_text(".nbt-caret-line").splitlines()
    assert caret[1].index("^") == caret[0].index("params.sed")
    tab.page.fill(".nbt-where", "")
    tab.page.press(".nbt-where", "Enter")
    tab.page.fill(".nbt-search", "run-0004")
    tab.page.wait_for_function("() => document.querySelector('.nbt-count').textContent === '10 of 10,000 runs shown'",
                               timeout=10_000)

    # selecting two rows makes table.selected hold their ids in the kernel
    rows = tab.page.locator(".nbt-datarow")
    rows.nth(1).click()
    rows.nth(3).click(modifiers=["Control"])
    tab.page.wait_for_selector(".nbt-datarow.nbt-selected >> nth=1", timeout=10_000)
    ids = [rows.nth(i).get_attribute("data-run-id") for i in (1, 3)]
    assert lab.evaluate("big.ipynb", "table.selected") == ids
    rows.nth(5).click(modifiers=["Shift"])
    tab.page.wait_for_function("() => document.querySelectorAll('.nbt-datarow.nbt-selected').length === 3", timeout=10_000)
    assert len(lab.evaluate("big.ipynb", "table.selected")) == 3
    assert lab.evaluate("big.ipynb", "table.runs.height") == 10
    shoot(tab, "run-table-filtered-light")
    record(first_paint_s_10k=round(first_paint, 3), sort_click_s_10k=round(sort_s, 3))


def test_dark_theme_and_a_narrow_output(page, big_store):
    tab = page("dark.ipynb", [setup_cell(big_store), "nbtrack.show(group_by='experiment')"], dark=True, width=720)
    tab.run_all()
    tab.page.wait_for_selector(".nbt-grouprow", timeout=60_000)
    background = tab.page.eval_on_selector(".nbt-panel", "el => getComputedStyle(el).backgroundColor")
    text = tab.page.eval_on_selector(".nbt-datarow [data-col='name']", "el => getComputedStyle(el).color")
    darkness = sum(int(c) for c in background[background.index("(") + 1:-1].split(",")[:3])
    assert darkness < 200, background  # the panel follows JupyterLab Dark
    assert text != background
    assert tab.page.inner_text(".nbt-grouprow >> nth=0").startswith("▾")
    tab.page.click(".nbt-grouprow >> nth=0")
    tab.page.wait_for_function("() => document.querySelector('.nbt-grouprow .nbt-caret').textContent === '▸'",
                               timeout=10_000)
    width = tab.page.eval_on_selector(".nbt-panel", "el => el.getBoundingClientRect().width")
    assert width < 720
    shoot(tab, "run-table-grouped-dark-narrow")


RUN_NOTEBOOK = [
    "%load_ext nbtrack",
    '%track start demo --name "bert lr=1e-3 (baseline)" --tags nlp,first',
    "x = 21 * 2\nnbtrack.log(loss=0.5, step=0)\nnbtrack.log(loss=0.25, step=1)",
    "nbtrack.log_params({'lr': 1e-3, 'opt': {'name': 'adam'}, 'api_key': 'sk-live-zq9'})\n"
    "nbtrack.log_metadata({'hardware': {'gpu': 'A100'}})",
    "%track stop",
    "page = nbtrack.show('bert lr=1e-3 (baseline)')\npage",
]


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_run_page_shows_the_cells_and_saves_notes_and_tags(page, store, lab, dark):
    name = f"runpage-{'dark' if dark else 'light'}.ipynb"
    tab = page(name, [setup_cell(store), *RUN_NOTEBOOK], dark=dark)
    tab.run_all()
    tab.page.wait_for_selector(".nbt-run-page", timeout=60_000)
    assert tab.page.inner_text(".nbt-runname") == "bert lr=1e-3 (baseline)"
    overview = tab.page.inner_text(".nbt-overview")
    assert "completed" in overview and "demo" in overview and "adhoc identity" in overview
    shoot(tab, f"run-page-overview-{'dark' if dark else 'light'}")
    tab.page.click(".nbt-run-page .nbt-tab[data-tab='code']")
    tab.page.wait_for_selector(".nbt-cellrec", timeout=10_000)
    code = tab.page.inner_text(".nbt-cells")
    assert "x = 21 * 2" in code and "%track stop" in code
    sha = nbtrack.get_run("bert lr=1e-3 (baseline)", store=store)["cells"][1]["sha256"]
    assert sha[:12] in code
    shoot(tab, f"run-page-code-{'dark' if dark else 'light'}")
    tab.page.click(".nbt-run-page .nbt-tab[data-tab='params']")
    params = tab.page.inner_text(".nbt-run-page .nbt-tabbody")
    assert "api_key" in params and "•••• (secret, not stored)" in params and "zq9" not in params
    tab.page.click(".nbt-run-page .nbt-tab[data-tab='metadata']")
    assert "A100" in tab.page.inner_text(".nbt-tree")
    tab.page.click(".nbt-run-page .nbt-tab[data-tab='notes']")
    tab.page.fill(".nbt-note-input", "Loss halves each step: **promising**")
    tab.page.click(".nbt-add-note")
    tab.page.wait_for_selector(".nbt-note .nbt-markdown strong", timeout=10_000)
    tab.page.fill(".nbt-tag-input", "keep, best")
    tab.page.click("text=Add tags")
    tab.page.wait_for_selector(".nbt-tags-edit .nbt-tag:has-text('best')", timeout=10_000)
    tab.page.click("[aria-label='remove tag first']")
    tab.page.wait_for_function("() => ![...document.querySelectorAll('.nbt-tags-edit .nbt-tag')].some(t => t.textContent.startsWith('first'))",
                               timeout=10_000)
    stored = lab.evaluate(name, "nbtrack.get_run('bert lr=1e-3 (baseline)')['tags']")
    assert stored == ["nlp", "keep", "best"]
    notes = lab.evaluate(name, "[n['text'] for n in nbtrack.get_run('bert lr=1e-3 (baseline)')['notes']]")
    assert notes == ["Loss halves each step: **promising**"]
    shoot(tab, f"run-page-notes-{'dark' if dark else 'light'}")
    # the page is live: an edit made elsewhere shows up, and a draft being typed survives it
    tab.page.fill(".nbt-note-input", "half-written thought")
    nbtrack.open_run("bert lr=1e-3 (baseline)", store=store).add_tags("from-elsewhere")
    tab.page.wait_for_selector(".nbt-tags-edit .nbt-tag:has-text('from-elsewhere')", timeout=30_000)
    assert tab.page.input_value(".nbt-note-input") == "half-written thought"


def test_hostile_strings_show_as_text_and_fire_nothing(page, store):
    with nbtrack.start_run("<b>exp</b>", name="<img src=x onerror=alert(1)>",
                           tags=["<script>alert(1)</script>"], params={"<i>k</i>": "<svg onload=alert(3)>"}) as run:
        run.log({"<img src=y onerror=alert(4)>": 1.0}, step=0)
        run.note("<img src=x onerror=alert(2)> and <script>alert(5)</script> **bold**")
    tab = page("xss.ipynb", [setup_cell(store), "table = nbtrack.show()\ntable",
                             f"nbtrack.show({run.id!r}, tab='notes')"])
    tab.run_all()
    tab.page.wait_for_selector(".nbt-note .nbt-markdown", timeout=60_000)
    name = tab.page.inner_text(".nbt-datarow [data-col='name']")
    assert name == "<img src=x onerror=alert(1)>"
    assert tab.page.inner_text(".nbt-datarow [data-col='tags']") == "<script>alert(1)</script>"
    assert "<b>exp</b>" in tab.page.inner_text(".nbt-datarow [data-col='experiment']")
    note = tab.page.inner_text(".nbt-note .nbt-markdown")
    assert "<img src=x onerror=alert(2)>" in note and "<script>alert(5)</script>" in note
    assert tab.page.locator(".nbtrack-root img, .nbtrack-root script, .nbtrack-root svg[onload]").count() == 0
    assert tab.page.locator(".nbt-note .nbt-markdown strong").inner_text() == "bold"
    tab.page.click(".nbt-datarow [data-action='open']")
    tab.page.wait_for_selector(".nbt-details .nbt-run-page", timeout=10_000)
    tab.page.click(".nbt-details .nbt-tab[data-tab='params']")
    assert "<svg onload=alert(3)>" in tab.page.inner_text(".nbt-details .nbt-grid")
    shoot(tab, "hostile-strings")


def test_an_open_table_follows_runs_as_they_start_log_and_end(page, store):
    with nbtrack.start_run("exp", name="already-there"):
        pass
    tab = page("live.ipynb", [setup_cell(store), "nbtrack.show()"])
    tab.run_all()
    tab.page.wait_for_selector(".nbt-datarow", timeout=60_000)
    run = nbtrack.start_run("exp", name="training-now", params={"lr": 0.1})
    run.log({"loss": 0.9}, step=0)
    run.flush()
    wait_first_name(tab, "training-now", timeout=30_000)
    assert tab.page.inner_text(".nbt-datarow >> nth=0 >> [data-col='status']") == "running"
    run.log({"loss": 0.1}, step=1)
    run.flush()
    tab.page.wait_for_function(
        "() => document.querySelector('.nbt-datarow [data-col=\"metrics.loss\"]')?.textContent === '0.1'",
        timeout=30_000)
    run.end()
    tab.page.wait_for_function(
        "() => document.querySelector('.nbt-datarow [data-col=status]')?.textContent === 'completed'",
        timeout=30_000)
    assert tab.page.inner_text(".nbt-count") == "2 runs"


def test_experiments_list_archives_restores_and_opens_runs(page, store):
    for i in range(6):
        with nbtrack.start_run("vision" if i % 2 else "nlp", tags=["x"]):
            pass
    nbtrack.experiment("nlp").set_description("Fine-tuning BERT on reviews")
    nbtrack.experiment("nlp").add_tags("text")
    tab = page("experiments.ipynb", [setup_cell(store), "nbtrack.show(experiments=True)"])
    tab.run_all()
    tab.page.wait_for_selector(".nbt-exp", timeout=60_000)
    assert tab.page.locator(".nbt-exp").count() == 2
    assert "Fine-tuning BERT" in tab.page.inner_text(".nbt-exp[data-experiment='nlp']")
    tab.page.fill(".nbt-experiments .nbt-search", "bert")
    tab.page.wait_for_function("() => document.querySelectorAll('.nbt-exp').length === 1", timeout=10_000)
    tab.page.fill(".nbt-experiments .nbt-search", "")
    tab.page.wait_for_function("() => document.querySelectorAll('.nbt-exp').length === 2", timeout=10_000)
    tab.page.click(".nbt-exp[data-experiment='nlp'] >> text=Archive")
    tab.page.wait_for_function("() => document.querySelectorAll('.nbt-exp').length === 1", timeout=10_000)
    assert tab.page.locator(".nbt-exp").get_attribute("data-experiment") == "vision"
    assert nbtrack.experiments(include_archived=True).filter(archived=True)["experiment"].to_list() == ["nlp"]
    tab.page.select_option(".nbt-experiments select[aria-label='active or archived']", "archived")
    tab.page.click(".nbt-exp[data-experiment='nlp'] >> text=Restore")
    tab.page.wait_for_function("() => document.querySelectorAll('.nbt-exp').length === 0", timeout=10_000)
    assert nbtrack.experiments()["experiment"].to_list() == ["nlp", "vision"]
    tab.page.select_option(".nbt-experiments select[aria-label='active or archived']", "all")
    tab.page.wait_for_selector(".nbt-exp[data-experiment='vision']", timeout=10_000)
    shoot(tab, "experiments-light")
    tab.page.click(".nbt-exp[data-experiment='vision'] .nbt-exp-name")
    tab.page.wait_for_function("() => document.querySelector('.nbt-count')?.textContent === '3 of 3 runs shown' || document.querySelector('.nbt-count')?.textContent === '3 runs'",
                               timeout=10_000)
    assert tab.page.inner_text(".nbt-chip") .startswith("experiment: vision")


def test_notebook_7_shows_the_table(page, store):
    for i in range(3):
        with nbtrack.start_run("nb7", name=f"nb7-run-{i}"):
            pass
    tab = page("nb7.ipynb", [setup_cell(store), "nbtrack.show()"], app="notebook")
    tab.page.click(".jp-Notebook .jp-Cell >> nth=0")
    tab.page.keyboard.press("Shift+Enter")
    tab.page.keyboard.press("Shift+Enter")
    tab.page.wait_for_selector(".nbt-datarow", timeout=60_000)
    assert tab.page.locator(".nbt-datarow").count() == 3
    assert first_name(tab) == "nb7-run-2"
    shoot(tab, "notebook7-table")


def test_a_saved_notebook_grows_little_per_panel(page, big_store, lab):
    tab = page("saved.ipynb", [setup_cell(big_store), "nbtrack.show()", "nbtrack.show('run-00042')"])
    path = lab.root / "saved.ipynb"
    before = path.stat().st_size
    tab.run_all()
    tab.page.wait_for_selector(".nbt-datarow", timeout=60_000)
    tab.page.wait_for_selector(".nbt-run-page", timeout=60_000)
    tab.command("docmanager:save")
    tab.page.wait_for_function("() => !document.querySelector('.jp-mod-dirty')", timeout=30_000)
    saved = json.loads(path.read_text())
    assert "application/vnd.jupyter.widget-state+json" in saved["metadata"].get("widgets", {})  # worst case
    growth = path.stat().st_size - before
    record(saved_notebook_growth_bytes_two_panels_10k=growth)
    assert growth <= 2 * 100_000, f"two panels over 10,000 runs added {growth} bytes"


def test_magics_column_picker_widths_archived_and_select_all(page, store, lab):
    for i in range(4):
        with nbtrack.start_run("exp", name=f"m-{i}", params={"lr": 0.1 * (i + 1)}):
            pass
    nbtrack.open_run("m-0").archive()
    tab = page("magics.ipynb", [setup_cell(store), "%load_ext nbtrack", "table = %track runs\ntable",
                                "%track show m-3"])
    tab.run_all()
    tab.page.wait_for_selector(".nbt-run-page", timeout=60_000)
    tab.page.wait_for_selector(".nbt-datarow", timeout=60_000)
    assert tab.page.inner_text(".nbt-count") == "3 runs"  # the archived run waits behind the toggle
    tab.page.check(".nbt-archived")
    tab.page.wait_for_function("() => document.querySelector('.nbt-count').textContent === '4 runs'", timeout=10_000)
    assert lab.evaluate("magics.ipynb", "table.show_archived") is True

    tab.page.click(".nbt-columns-button")
    tab.page.wait_for_selector(".nbt-picker-item", timeout=10_000)
    tab.page.locator(".nbt-picker-item", has_text="user").locator("input").uncheck()
    tab.page.wait_for_selector(".nbt-hcell[data-col='user']", state="detached", timeout=10_000)
    assert "user" not in lab.evaluate("magics.ipynb", "table.columns")

    handle = tab.page.locator(".nbt-hcell[data-col='name'] .nbt-resize")
    before = tab.page.locator(".nbt-hcell[data-col='name']").bounding_box()["width"]
    box = handle.bounding_box()
    tab.page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    tab.page.mouse.down()
    tab.page.mouse.move(box["x"] + 90, box["y"] + box["height"] / 2, steps=5)
    tab.page.mouse.up()
    after = tab.page.locator(".nbt-hcell[data-col='name']").bounding_box()["width"]
    assert after - before > 60
    wait_for(lambda: lab.evaluate("magics.ipynb", "round(table.widths.get('name', 0))") >= before + 60,
             timeout=10, what="the dragged width to reach the kernel")

    tab.page.click(".nbt-header .nbt-check")
    tab.page.wait_for_function("() => document.querySelectorAll('.nbt-datarow.nbt-selected').length === 4", timeout=10_000)
    assert len(lab.evaluate("magics.ipynb", "table.selected")) == 4
    assert lab.evaluate("magics.ipynb", "type(table).__name__") == "RunTable"
    shoot(tab, "magics-table-and-page")
