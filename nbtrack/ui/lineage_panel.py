"""The lineage graph panel: what ``nbtrack.lineage(x)`` shows in a notebook.

Runs (boxes) and file versions (document shapes) laid out left to right by
:mod:`~nbtrack.ui.lineage_layout`, edges for *produced* and *used by*. In the browser a click
focuses a node's upstream and downstream, hovering shows a file's paths, size, hash and time,
and a run opens its run page. The graph travels on request, never in widget state; without a
widget manager the panel is the Lineage's escaped HTML table.
"""

from __future__ import annotations

import posixpath
import time

import traitlets

from ..errors import NbtrackError
from . import lineage_layout
from .panel import Panel
from .run_requests import RunRequests

MAX_NODES = 3000


class LineageTooLargeError(NbtrackError, ValueError):
    """More nodes than a drawing can hold; walk less far (``depth=``) or use ``to_polars()``."""


def _ms(t):
    return None if t is None else t * 1000.0


def _size(size) -> str:
    from ..query.lineage import _size as size_text

    return size_text(size)


def node_payload(node: dict, targets: set) -> dict:
    """What the browser draws and shows on hover for one Lineage node."""
    out = {"id": node["id"], "kind": node["kind"], "distance": node.get("distance", 0),
           "target": node["id"] in targets}
    if node["kind"] == "run":
        out.update(label=str(node.get("name") or node["id"]),
                   sub=" · ".join(str(v) for v in (node.get("experiment"), node.get("status")) if v),
                   name=node.get("name"), experiment=node.get("experiment"), status=node.get("status"),
                   started=_ms(node.get("started")))
    else:
        paths = list(node.get("paths") or [])
        latest = paths[-1] if paths else "?"
        out.update(label=posixpath.basename(latest.replace("\\", "/")) or latest,
                   sub=f"{node['id'][:12]} · {_size(node.get('size'))}", paths=paths,
                   sha256=node.get("sha256"), size=node.get("size"), first_seen=_ms(node.get("first_seen")))
    return out


def graph_payload(lineage) -> dict:
    """Nodes with their positions and edges with their routes, ready to draw."""
    nodes = lineage.nodes
    if len(nodes) > MAX_NODES:
        raise LineageTooLargeError(
            f"this lineage has {len(nodes)} nodes, more than the graph draws ({MAX_NODES}): "
            "walk less far with depth=, or read it with .to_polars()")
    edges = lineage.edges
    began = time.perf_counter()
    placed = lineage_layout.layout([n["id"] for n in nodes], [(e["source"], e["target"]) for e in edges])
    took = time.perf_counter() - began
    targets = set(lineage.targets)
    out_nodes = []
    for n in nodes:
        item = node_payload(n, targets)
        item.update(placed["nodes"][n["id"]])
        out_nodes.append(item)
    out_edges = [{"source": e["source"], "target": e["target"], "relation": e["relation"],
                  "paths": e["paths"], "points": route} for e, route in zip(edges, placed["edges"], strict=True)]
    return {"title": lineage.title, "summary": lineage._summary(), "nodes": out_nodes, "edges": out_edges,
            "width": placed["width"], "height": placed["height"], "layout_s": round(took, 4),
            "node_w": lineage_layout.NODE_W, "node_h": lineage_layout.NODE_H}


class LineagePanel(RunRequests, Panel):
    """A Lineage drawn as a graph. ``focus`` is the node a person clicked (its id), live."""

    _panel = traitlets.Unicode("lineage").tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    focus = traitlets.Unicode("").tag(sync=True)

    def __init__(self, lineage, layout):
        self.lineage = lineage
        self.store_layout = layout
        super().__init__(title=str(lineage.title))

    def req_graph(self):
        return graph_payload(self.lineage)

    def fallback_html(self) -> str:
        return self.lineage._repr_html_()

    def fallback_text(self) -> str:
        return repr(self.lineage)
