"""The panels' kernel side with real stores: the request channel (Arrow answers, errors with
positions), the runtime sent once, live pushes when another process writes, selection, the run
page's data and edits, static fallbacks, and what a saved notebook would hold."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import polars as pl
import pytest

import nbtrack
from nbtrack.errors import FilterError
from nbtrack.ui import bundle

from panel_wire import Wire, rows

pytestmark = pytest.mark.backends  # the panels read a bucket as they read a folder

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def runs(store):
    made = []
    for i in range(30):
        with nbtrack.start_run(f"exp{i % 3}", name=f"run-{i:02d}", tags=[f"t{i % 2}"],
                               params={"lr": 10.0 ** -(i % 3), "seed": i}) as run:
            run.log({"loss": 1 / (i + 1)}, step=0)
            made.append(run.id)
    return made


def test_the_table_answers_with_arrow_rows_and_its_columns(runs):
    table = nbtrack.show()
    wire = Wire(table)
    meta, buffers = wire.ask("view", visible=[0, 40])
    assert meta["ok"] and meta["arrow"] and meta["runs"] == meta["total"] == 30
    got = rows(buffers)
    assert got.height == 30 and got["name"][0] == "run-29"
    assert {"run_id", "status", "name", "params.lr", "metrics.loss"} <= set(got.columns)
    assert got.schema["started"] == pl.Float64  # epoch milliseconds for the browser
    part, buffers = wire.ask("rows", offset=10, limit=5)
    assert rows(buffers)["name"].to_list() == [f"run-{i:02d}" for i in range(19, 14, -1)]
    bad, _ = wire.ask("no_such_thing")
    assert not bad["ok"] and "no request 'no_such_thing'" in bad["error"]["message"]


def test_a_bad_filter_is_reported_with_its_position_and_keeps_the_rows(runs):
    table = nbtrack.show()
    wire = Wire(table)
    table.where = "params.lr < 0.5"
    meta, buffers = wire.push(timeout=1)
    assert meta["topic"] == "view" and meta["runs"] == 20 and meta["error"] is None
    table.where = "params.lr < 0.5 and nope > 1"
    meta, buffers = wire.push(timeout=1)
    assert meta["error"]["position"] == len("params.lr < 0.5 and ")
    assert "unknown field 'nope'" in meta["error"]["message"]
    assert meta["runs"] == 20 and table.runs.height == 20  # the last good filter still shows
    with pytest.raises(FilterError):
        nbtrack.show(where="params.lr <")


def test_the_runtime_goes_out_once_per_request_and_matches_the_loader(runs):
    table = nbtrack.show()
    wire = Wire(table)
    table._receive(table, {"type": "runtime", "id": "rt-1"}, [])
    content, buffers = wire.push(timeout=1)
    assert content == {"type": "runtime", "id": "rt-1", "ok": True}
    sha = hashlib.sha256(buffers[0]).hexdigest()
    assert sha == bundle.manifest()["runtime_sha256"]
    assert sha in table._esm and len(table._esm) < 3000  # each widget carries only the loader
    code = buffers[0].decode() + table._esm
    assert not re.search(r"""(\bimport\s*\(?|\bfrom)\s*["'](https?:)?//""", code)  # nothing from a CDN
    assert "fetch(" not in code


def test_selection_is_live_in_python_and_calls_back(runs):
    table = nbtrack.show()
    seen = []
    table.on_select(seen.append)
    table.selected = [runs[0], runs[1]]
    assert seen == [[runs[0], runs[1]]]
    ids, _ = Wire(table).ask("ids", offset=0, limit=3)
    assert ids["ids"] == list(reversed(runs))[:3]


def test_a_run_started_elsewhere_reaches_an_open_table_without_rerunning(runs, spawn):
    table = nbtrack.show(live=True)
    wire = Wire(table)
    proc = spawn("""
        import sys, nbtrack
        run = nbtrack.start_run("exp0", name="from-another-process")
        run.log({"loss": 0.5}, step=0)
        run.flush()
        print("started", flush=True)
        sys.stdin.readline()
        run.end()
    """)
    assert proc.stdout.readline().strip() == "started"
    meta, buffers = wire.push()
    while meta.get("runs") != 31:  # a watcher tick can land between the start and the flush
        meta, buffers = wire.push()
    shown = rows(buffers)
    assert shown.filter(pl.col("name") == "from-another-process")["status"].to_list() == ["running"]
    proc.stdin.write("\n")
    proc.stdin.flush()
    proc.wait(timeout=30)
    while True:
        meta, buffers = wire.push()
        done = rows(buffers).filter(pl.col("name") == "from-another-process")["status"].to_list()
        if done == ["completed"]:
            break
    table.close()


def test_the_run_page_data_edits_and_previews(store, tmp_path):
    Path("data.csv").write_text("a,b\n1,2\n")
    Path("plot.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    with nbtrack.start_run("exp", name="page", params={"lr": 0.1}) as run:
        for step in range(500):
            run.log({"loss": 1 / (step + 1)}, step=step)
        run.log({"loss": 99.0}, step=500)  # a spike the sparkline must keep
        run.use_input("data.csv")
        run.log_artifact("plot.png")
    page = nbtrack.show(run.id)
    wire = Wire(page)
    meta, _ = wire.ask("run", run_id=run.id)
    log = meta["run"]
    assert log["name"] == "page" and log["params"] == {"lr": 0.1}
    [loss] = log["metric_summary"]
    assert (loss["key"], loss["last"], loss["max"], loss["count"], loss["last_step"]) == ("loss", 99.0, 99.0, 501, 500)
    assert "packages" in log["env"]
    meta, buffers = wire.ask("sparklines", run_id=run.id)
    spark = rows(buffers)
    assert spark.height <= 120 and 99.0 in spark["value"].to_list()
    text_sha = log["inputs"][0]["sha256"]
    meta, _ = wire.ask("preview", run_id=run.id, sha256=text_sha)
    assert meta["kind"] == "text" and meta["text"] == "a,b\n1,2\n"
    image_sha = log["artifacts"][0]["sha256"]
    meta, buffers = wire.ask("preview", run_id=run.id, sha256=image_sha)
    assert meta["kind"] == "image" and meta["mime"] == "image/png" and buffers[0].startswith(b"\x89PNG")
    refused, _ = wire.ask("preview", run_id=run.id, sha256="0" * 64)
    assert not refused["ok"] and "no file with sha256" in refused["error"]["message"]
    assert wire.ask("note", run_id=run.id, text="looks **good**")[0]["ok"]
    assert wire.ask("tags", run_id=run.id, add=["best", "keep"], remove=[])[0]["ok"]
    assert wire.ask("tags", run_id=run.id, add=[], remove=["keep"])[0]["ok"]
    stored = nbtrack.get_run(run.id)
    assert [n["text"] for n in stored["notes"]] == ["looks **good**"] and stored["tags"] == ["best"]
    assert nbtrack.runs(where='tags contains "best"')["name"].to_list() == ["page"]
    empty, _ = wire.ask("note", run_id=run.id, text="   ")
    assert not empty["ok"] and "needs some text" in empty["error"]["message"]


def test_static_forms_escape_user_strings(store):
    with nbtrack.start_run("exp", name="<img src=x onerror=alert(1)>", tags=["<script>alert(1)</script>"]) as run:
        run.note("<script>alert(2)</script>")
    for panel in (nbtrack.show(), nbtrack.show(run.id)):
        data, _ = panel._repr_mimebundle_()
        assert "application/vnd.jupyter.widget-view+json" in data
        assert "<script>" not in data["text/html"] and "<img src" not in data["text/html"]
        assert "&lt;img src=x onerror=alert(1)&gt;" in data["text/html"]
        assert "<img src=x onerror=alert(1)>" in data["text/plain"]


def test_widget_state_stays_small_whatever_the_store_holds(store):
    for i in range(400):
        with nbtrack.start_run("exp", params={"i": i, "note": "x" * 200}):
            pass
    table = nbtrack.show()
    table.selected = table.runs["run_id"].to_list()[:10]
    state = table.get_state()
    size = len(json.dumps(state))
    assert size < 6000, f"widget state is {size} bytes"  # no rows in traits: only settings
    assert len(state["_esm"]) < 3000


def test_the_bundle_is_built_from_the_sources_in_js():
    manifest = bundle.manifest()
    digest = hashlib.sha256()
    files = sorted(p for p in (ROOT / "js" / "src").rglob("*") if p.is_file())
    for path in [*files, ROOT / "js" / "package-lock.json", ROOT / "js" / "build.mjs"]:
        digest.update(path.relative_to(ROOT / "js").as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    assert manifest["sources_sha256"] == digest.hexdigest(), "stale bundle: run scripts/build_js.sh"
    assert shutil.which("node"), "Node.js is needed to check the bundle"
    out = Path(__file__).parent / "output" / "bundle-check"
    subprocess.run(["node", str(ROOT / "js" / "build.mjs"), str(out)], check=True, capture_output=True)
    assert (out / "runtime.js").read_bytes() == bundle.RUNTIME.read_bytes()
    assert (out / "loader.js").read_bytes() == bundle.LOADER.read_bytes()
    assert (out / "charts.js").read_bytes() == bundle.MODULES["charts"].read_bytes()
    assert (out / "live_loader.js").read_bytes() == bundle.LIVE_LOADER.read_bytes()
    charts_sha = hashlib.sha256(bundle.module_bytes("charts")).hexdigest()
    assert charts_sha in bundle.runtime_bytes().decode()  # the runtime asks for this very module
    assert len(bundle.runtime_bytes()) < 600_000 < len(bundle.module_bytes("charts"))  # tables don't carry vega
