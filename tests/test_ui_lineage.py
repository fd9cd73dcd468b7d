"""The lineage graph's layout and panel on real stores: left to right along every edge, no two
nodes overlapping at 200 nodes, edges routed between the layers, the payload the browser draws,
and the display hook (a panel in a kernel, the escaped HTML table elsewhere; query/ imports no
widgets)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

import nbtrack
from nbtrack.query import lineage as lineage_q
from nbtrack.ui import lineage_display, lineage_layout
from nbtrack.ui.lineage_layout import NODE_H, NODE_W
from nbtrack.ui.lineage_panel import LineagePanel, graph_payload

from panel_wire import Wire

pytestmark = pytest.mark.backends  # the panels read a bucket as they read a folder

OUTPUT = Path(__file__).parent / "output"


def record(**figures) -> None:
    OUTPUT.mkdir(exist_ok=True)
    path = OUTPUT / "ui-figures.json"
    known = json.loads(path.read_text()) if path.exists() else {}
    known.update(figures)
    path.write_text(json.dumps(known, indent=1, sort_keys=True))


def pipeline(tmp_path: Path, runs: int = 100, seed: int = 3) -> list[str]:
    """``runs`` runs, each reading one to three files earlier runs wrote and writing one: a
    lineage of ``2 * runs`` nodes, made through the public API with real files."""
    rng = random.Random(seed)
    made: list[Path] = []
    ids = []
    for i in range(runs):
        with nbtrack.start_run("pipe", name=f"step-{i:03d}") as run:
            for path in rng.sample(made, min(len(made), rng.randint(1, 3))):
                run.use_input(path)
            out = tmp_path / f"out-{i:03d}.bin"
            out.write_bytes(f"made by step {i}".encode())
            run.log_output(out)
            made.append(out)
            ids.append(run.id)
    return ids


def overlapping(nodes: dict) -> list[tuple[str, str]]:
    boxes = sorted(nodes.items(), key=lambda kv: (kv[1]["x"], kv[1]["y"]))
    bad = []
    for i, (a, p) in enumerate(boxes):
        for b, q in boxes[i + 1:]:
            if q["x"] >= p["x"] + NODE_W:
                break
            if abs(q["y"] - p["y"]) < NODE_H:
                bad.append((a, b))
    return bad


def test_two_hundred_nodes_go_left_to_right_and_never_overlap(tmp_path):
    ids = pipeline(tmp_path)
    lin = nbtrack.lineage(ids[-1])
    full = lineage_q.Lineage(lin._g, ids, "both", None)  # every run and file of the store
    assert len(full.nodes) == 200
    began = time.perf_counter()
    placed = lineage_layout.layout([n["id"] for n in full.nodes], [(e["source"], e["target"]) for e in full.edges])
    took = time.perf_counter() - began
    nodes = placed["nodes"]
    assert len(nodes) == 200
    assert overlapping(nodes) == []
    for e, route in zip(full.edges, placed["edges"], strict=True):
        a, b = nodes[e["source"]], nodes[e["target"]]
        assert a["x"] + NODE_W <= b["x"], f"{e} does not go left to right"
        xs = [p[0] for p in route]
        assert xs == sorted(xs) and route[0][0] == a["x"] + NODE_W and route[-1][0] == b["x"]
    # runs and files alternate: a run's outputs sit in the column after it
    kinds = {n["id"]: n["kind"] for n in full.nodes}
    for e in full.edges:
        assert kinds[e["source"]] != kinds[e["target"]]
    assert all(0 <= n["x"] <= placed["width"] - NODE_W and 0 <= n["y"] <= placed["height"] - NODE_H
               for n in nodes.values())
    record(lineage_layout_s_200_nodes=round(took, 4), lineage_layout_size_200_nodes=[placed["width"], placed["height"]])


def test_long_edges_bend_between_the_nodes_of_the_layers_they_cross(tmp_path):
    ids = pipeline(tmp_path, runs=40, seed=11)
    full = lineage_q.Lineage(nbtrack.lineage(ids[-1])._g, ids, "both", None)
    placed = lineage_layout.layout([n["id"] for n in full.nodes], [(e["source"], e["target"]) for e in full.edges])
    bent = [r for r in placed["edges"] if len(r) > 2]
    assert bent, "a 40-step pipeline has edges that skip layers"
    boxes = list(placed["nodes"].values())
    for route in bent:
        for x, y in route[1:-1]:  # a bend never lies inside a node
            assert not any(b["x"] <= x <= b["x"] + NODE_W and b["y"] <= y <= b["y"] + NODE_H for b in boxes)


def test_a_cycle_is_laid_out_too(tmp_path):
    data = tmp_path / "same.txt"
    data.write_text("same content")
    with nbtrack.start_run("cyc", name="rewrites") as run:  # reads and writes the same content
        run.use_input(data)
        run.log_output(data)
    lin = nbtrack.lineage(run.id)
    placed = lineage_layout.layout([n["id"] for n in lin.nodes], [(e["source"], e["target"]) for e in lin.edges])
    assert len(placed["nodes"]) == 2 and overlapping(placed["nodes"]) == [] and len(placed["edges"]) == 2


def test_an_empty_graph_has_no_size():
    assert lineage_layout.layout([], []) == {"nodes": {}, "edges": [], "width": 0, "height": 0}


def test_the_panel_sends_runs_and_files_with_what_hover_shows(tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("a,b\n1,2\n")
    with nbtrack.start_run("lin", name="prep <b>") as prep:
        prep.use_input(data)
        out = tmp_path / "clean.csv"
        out.write_text("clean")
        prep.log_output(out)
    with nbtrack.start_run("lin", name="train") as train:
        train.use_input(out)
    lin = nbtrack.lineage(out)
    panel = LineagePanel(lin, lin.store_layout)
    reply, _ = Wire(panel).ask("graph")
    assert reply["ok"]
    by = {n["label"]: n for n in reply["nodes"]}
    assert set(by) == {"prep <b>", "train", "data.csv", "clean.csv"}
    assert by["clean.csv"]["target"] and not by["train"]["target"]
    assert by["clean.csv"]["kind"] == "file" and by["clean.csv"]["size"] == 5
    assert by["clean.csv"]["sub"] == f"{by['clean.csv']['sha256'][:12]} · 5 B"
    assert by["clean.csv"]["paths"] == ["clean.csv"] and by["clean.csv"]["first_seen"] > 1e12  # epoch ms
    assert by["prep <b>"]["sub"] == "lin · completed" and by["prep <b>"]["id"] == prep.id
    xs = [by[k]["x"] for k in ("data.csv", "prep <b>", "clean.csv", "train")]
    assert xs == sorted(xs) and len(set(xs)) == 4
    relations = {(e["source"], e["target"]): e["relation"] for e in reply["edges"]}
    assert relations[(prep.id, by["clean.csv"]["id"])] == "produced"
    assert relations[(by["clean.csv"]["id"], train.id)] == "used_by"
    run_reply, _ = Wire(panel).ask("run", run_id=train.id)  # a run node opens its run page
    assert run_reply["ok"] and run_reply["run"]["name"] == "train"
    assert "&lt;b&gt;" in panel.fallback_html() and "<b>" not in panel.fallback_html().replace("<b>Lineage</b>", "")
    assert repr(panel) == repr(lin)


def test_too_large_a_graph_is_refused_with_what_to_do(tmp_path, monkeypatch):
    ids = pipeline(tmp_path, runs=6)
    monkeypatch.setattr("nbtrack.ui.lineage_panel.MAX_NODES", 5)
    with pytest.raises(nbtrack.errors.NbtrackError, match="depth=.*to_polars"):
        graph_payload(nbtrack.lineage(ids[-1]))


def test_outside_a_kernel_a_lineage_shows_its_table_and_keeps_its_methods(tmp_path):
    ids = pipeline(tmp_path, runs=3)
    lin = nbtrack.lineage(ids[1])
    assert lineage_q.display_hook is lineage_display.mimebundle  # installed by nbtrack.lineage
    bundle = lin._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html"} and bundle["text/html"] == lin._repr_html_()
    assert lin.upstream().store_layout is lin.store_layout
    nodes, edges = lin.to_polars()
    assert nodes.height == len(lin.nodes) and "digraph" in lin.to_dot()


def test_query_layer_imports_no_widgets(tmp_path):
    code = (
        "import sys, nbtrack\n"
        "from nbtrack.query import lineage\n"
        "lin = nbtrack.lineage(sys.argv[1])\n"
        "lin._repr_mimebundle_()\n"
        "bad = [m for m in ('anywidget', 'ipywidgets', 'igraph', 'nbtrack.ui.panel') if m in sys.modules]\n"
        "print(bad)\n"
    )
    ids = pipeline(tmp_path, runs=2)
    out = subprocess.run([sys.executable, "-c", code, ids[0]], capture_output=True, text=True, check=True)  # noqa: S603
    assert out.stdout.strip() == "[]"
