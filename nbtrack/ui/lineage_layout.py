"""Where the lineage graph's nodes go: a layered (Sugiyama) layout, left to right, computed by
igraph (``Graph.layout_sugiyama``: cycles broken by a feedback arc set, longest-path layers,
barycentric crossing reduction, dummy vertices on long edges).

Every node is a box of one size, so the layout's minimum gap of one unit between the nodes of
a layer becomes ``NODE_H + ROW_GAP`` pixels and nodes can never overlap. Edges that span layers
are routed through igraph's dummy vertices, so they pass between nodes rather than through them.
"""

from __future__ import annotations

from ..errors import NbtrackError

NODE_W = 184
NODE_H = 40
RANK_GAP = 64  # between the layers (columns), room for the edges' curves
ROW_GAP = 12
MARGIN = 12
CROSSING_PASSES = 60


class LayoutUnavailableError(NbtrackError, ImportError):
    """igraph (the layout library) is not installed."""


def _igraph():
    try:
        import igraph
    except ImportError:
        raise LayoutUnavailableError(
            "the lineage graph is laid out by igraph: pip install 'nbtrack[notebook]' (or pip install igraph)"
        ) from None
    return igraph


def layout(node_ids: list[str], edges: list[tuple[str, str]]) -> dict:
    """Positions for ``node_ids`` with ``edges`` (source, target) between them.

    Returns ``{"nodes": {id: {"x", "y", "layer"}}, "edges": [[[x, y], ...], ...], "width",
    "height"}``: ``x, y`` is a node's top-left corner; each edge is its polyline from the
    source's right side through its bends to the target's left side, in the order given."""
    if not node_ids:
        return {"nodes": {}, "edges": [], "width": 0, "height": 0}
    ig = _igraph()
    index = {nid: i for i, nid in enumerate(node_ids)}
    pairs = [(index[s], index[t]) for s, t in edges]
    graph = ig.Graph(n=len(node_ids), edges=pairs, directed=True)
    placed = graph.layout_sugiyama(hgap=1, vgap=1, maxiter=CROSSING_PASSES)
    coords = placed.coords[: len(node_ids)]
    routes = getattr(placed, "edge_routing", None) or [[] for _ in pairs]
    lo = min(pos for pos, _ in coords)
    for bends in routes:
        for pos, _ in bends:
            lo = min(lo, pos)

    def px(pos: float, layer: float) -> tuple[float, float]:
        return (MARGIN + layer * (NODE_W + RANK_GAP), MARGIN + (pos - lo) * (NODE_H + ROW_GAP))

    nodes = {}
    for nid, (pos, layer) in zip(node_ids, coords, strict=True):
        x, y = px(pos, layer)
        nodes[nid] = {"x": round(x, 1), "y": round(y, 1), "layer": int(layer)}
    paths = []
    for (s, t), bends in zip(pairs, routes, strict=True):
        a, b = nodes[node_ids[s]], nodes[node_ids[t]]
        start = [a["x"] + NODE_W, a["y"] + NODE_H / 2]
        end = [b["x"], b["y"] + NODE_H / 2]
        if b["layer"] <= a["layer"]:  # an edge igraph reversed to break a cycle
            start, end = [a["x"], a["y"] + NODE_H / 2], [b["x"] + NODE_W, b["y"] + NODE_H / 2]
        middle = []
        for pos, layer in bends:
            x, y = px(pos, layer)
            middle.append([round(x + NODE_W / 2, 1), round(y + NODE_H / 2, 1)])
        middle.sort(key=lambda p: p[0], reverse=start[0] > end[0])  # from the source's side on
        paths.append([start, *middle, end])
    width = max(n["x"] for n in nodes.values()) + NODE_W + MARGIN
    height = max([n["y"] for n in nodes.values()] + [p[1] - NODE_H / 2 for r in paths for p in r]) + NODE_H + MARGIN
    return {"nodes": nodes, "edges": paths, "width": round(width, 1), "height": round(height, 1)}
