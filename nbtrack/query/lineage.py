"""Lineage: which runs made a file's content, and which runs used it.

The graph is built from the run index (every run's ``inputs`` and ``outputs``,
each a path with its sha256), so it costs one read of the index. It has two kinds
of node: *runs* and *file versions*. A file version is identified by its content
(sha256): a file renamed or copied is the same node (every path it was seen
under is kept), and a file overwritten with new content is a new node. Edges:
``run --produced--> file`` and ``file --used_by--> run``; so run A, which wrote a
file that run B read, is upstream of B whatever the file was called in between.

``depth`` counts the runs crossed, and a run comes with its files on the side
walked: from a file, ``depth=1`` reaches its producers (and their inputs) and its
consumers (and their outputs); from a run, ``depth=0`` is the run and its files,
``depth=1`` adds the runs on the other side of them. ``None`` walks all the way.

>>> lin = nbtrack.lineage("model.pt")
>>> lin.upstream().runs          # who made this content, and from what
>>> nodes, edges = lin.to_polars()
"""

from __future__ import annotations

import html
import os
import re
from collections import deque
from dataclasses import dataclass, field

from ..errors import NbtrackError
from ..store import objects
from ..store.layout import Layout

DIRECTIONS = {"both": "both", "upstream": "upstream", "up": "upstream",
              "downstream": "downstream", "down": "downstream"}
_HEX = re.compile(r"^[0-9a-f]{7,64}$")
_SAME = object()


class LineageTargetError(NbtrackError, LookupError):
    """Nothing in the store matches the file, sha256 or run given to ``lineage``."""


# A notebook front end (nbtrack.ui, installed by ``nbtrack.lineage``) may draw a Lineage as a
# panel: ``display_hook(lineage, include, exclude)`` returns a MIME bundle, or None for the
# escaped HTML table. This layer imports no widgets.
display_hook = None


# ------------------------------------------------------------------ the whole graph
@dataclass
class Graph:
    """Every run and file version of a store, with both edge directions indexed."""

    runs: dict[str, dict] = field(default_factory=dict)
    files: dict[str, dict] = field(default_factory=dict)
    produced: dict[str, set] = field(default_factory=dict)  # run -> shas it wrote
    used: dict[str, set] = field(default_factory=dict)  # run -> shas it read
    producers: dict[str, set] = field(default_factory=dict)  # sha -> runs
    consumers: dict[str, set] = field(default_factory=dict)  # sha -> runs
    edge_paths: dict[tuple, list] = field(default_factory=dict)  # (src, dst) -> paths
    by_path: dict[str, set] = field(default_factory=dict)  # normalised path -> shas
    by_name: dict[str, str] = field(default_factory=dict)  # run name -> run id

    def _file(self, ref: dict, t: float | None) -> str | None:
        sha = ref.get("sha256")
        path = ref.get("path")
        if not isinstance(sha, str) or not objects_sha(sha):
            return None
        node = self.files.get(sha)
        if node is None:
            node = self.files[sha] = {
                "id": sha, "kind": "file", "sha256": sha, "paths": [],
                "size": ref.get("size"), "first_seen": t,
            }
        if isinstance(path, str) and path not in node["paths"]:
            node["paths"].append(path)
            self.by_path.setdefault(_norm(path), set()).add(sha)
        if t is not None and (node["first_seen"] is None or t < node["first_seen"]):
            node["first_seen"] = t
        if node.get("size") is None:
            node["size"] = ref.get("size")
        return sha

    def _edge(self, src: str, dst: str, path: object) -> None:
        paths = self.edge_paths.setdefault((src, dst), [])
        if isinstance(path, str) and path not in paths:
            paths.append(path)


def objects_sha(text: str) -> bool:
    return len(text) == 64 and _HEX.match(text) is not None


def _norm(path: str) -> str:
    return os.path.normpath(path).replace(os.sep, "/")


def build(rows: list[dict]) -> Graph:
    """The graph of every run row (as ``runs.current_rows`` returns them)."""
    g = Graph()
    for row in sorted(rows, key=lambda r: (r.get("started") or 0.0, r.get("run_id") or "")):
        rid = row.get("run_id")
        if not isinstance(rid, str):
            continue
        t = row.get("started")
        g.runs[rid] = {
            "id": rid, "kind": "run", "name": row.get("name"),
            "experiment": row.get("experiment"), "status": row.get("status"), "started": t,
        }
        if isinstance(row.get("name"), str):
            g.by_name[row["name"]] = rid
        g.used[rid] = set()
        g.produced[rid] = set()
        for kind, mine, others in (("inputs", g.used, g.consumers),
                                   ("outputs", g.produced, g.producers)):
            for ref in row.get(kind) or ():
                sha = g._file(ref, t)
                if sha is not None:
                    mine[rid].add(sha)
                    others.setdefault(sha, set()).add(rid)
                    # file -> run for an input, run -> file for an output
                    g._edge(*((sha, rid) if kind == "inputs" else (rid, sha)), ref.get("path"))
    return g


def _walk(g: Graph, starts: list[str], upstream: bool, depth: int | None) -> dict[str, int]:
    """Nodes reachable from ``starts`` against (upstream) or along the edges, with the
    fewest runs crossed to reach them (a 0-1 breadth-first walk: run -> file costs 0,
    file -> run costs 1)."""
    dist = {s: 0 for s in starts}
    queue = deque(starts)
    while queue:
        node = queue.popleft()
        d = dist[node]
        if node in g.runs:
            nxt = g.used[node] if upstream else g.produced[node]
            step = 0
        else:
            nxt = (g.producers if upstream else g.consumers).get(node, ())
            step = 1
        if step and depth is not None and d + 1 > depth:
            continue
        for other in sorted(nxt):
            if d + step < dist.get(other, d + step + 1):
                dist[other] = d + step
                if step:
                    queue.append(other)
                else:
                    queue.appendleft(other)
    return dist


# ------------------------------------------------------------------ the result
class Lineage:
    """A piece of the lineage graph: ``nodes``, ``edges``, the ``targets`` it started
    from, and how far it walked. Shows itself as a table in a notebook."""

    def __init__(self, graph: Graph, targets: list[str], direction: str = "both",
                 depth: int | None = None, title: str | None = None) -> None:
        self._g = graph
        self.targets = list(targets)
        self.direction = direction
        self.depth = depth
        self.title = title or ", ".join(self._label(t) for t in self.targets)
        self.store_layout: Layout | None = None  # the store it was read from (for run pages)
        self.distance: dict[str, int] = {}
        if direction in ("both", "downstream"):
            self.distance.update(_walk(graph, self.targets, False, depth))
        if direction in ("both", "upstream"):
            for node, d in _walk(graph, self.targets, True, depth).items():
                self.distance[node] = -d if d else self.distance.get(node, 0)

    # ---------------------------------------------------------- contents
    @property
    def nodes(self) -> list[dict]:
        """Run nodes (id, name, experiment, status, started) then file nodes (id = sha256,
        paths, size, first_seen), each with its ``distance`` from the targets (negative:
        upstream) and ``label``."""
        out = [dict(self._node(n), distance=self.distance[n]) for n in self._ordered()]
        return out

    @property
    def edges(self) -> list[dict]:
        """``{"source", "target", "relation", "paths"}``; relation is ``produced``
        (run -> file) or ``used_by`` (file -> run)."""
        keep = self.distance
        out = []
        for (src, dst), paths in self._g.edge_paths.items():
            if src in keep and dst in keep:
                relation = "produced" if src in self._g.runs else "used_by"
                out.append({"source": src, "target": dst, "relation": relation,
                            "paths": list(paths)})
        return out

    @property
    def runs(self) -> list[dict]:
        """The run nodes, oldest first."""
        return [n for n in self.nodes if n["kind"] == "run"]

    @property
    def files(self) -> list[dict]:
        return [n for n in self.nodes if n["kind"] == "file"]

    def __contains__(self, item: object) -> bool:
        """A run id, run name, Run, sha256, or a path some file version here was seen under."""
        ref = getattr(item, "id", item)
        if isinstance(ref, os.PathLike):
            ref = os.fspath(ref)
        if not isinstance(ref, str):
            return False
        if ref in self.distance or self._g.by_name.get(ref) in self.distance:
            return True
        return any(s in self.distance for s in self._g.by_path.get(_norm(ref), ()))

    def __len__(self) -> int:
        return len(self.distance)

    def _ordered(self) -> list[str]:
        runs = [n for n in self.distance if n in self._g.runs]
        files = [n for n in self.distance if n in self._g.files]
        runs.sort(key=lambda r: (self._g.runs[r]["started"] or 0.0, r))
        files.sort(key=lambda s: (self._g.files[s]["first_seen"] or 0.0, s))
        return runs + files

    def _node(self, node_id: str) -> dict:
        if node_id in self._g.runs:
            node = dict(self._g.runs[node_id])
        else:
            node = dict(self._g.files[node_id])
            node["paths"] = list(node["paths"])
        node["label"] = self._label(node_id)
        return node

    def _label(self, node_id: str) -> str:
        run = self._g.runs.get(node_id)
        if run is not None:
            return str(run.get("name") or node_id)
        f = self._g.files[node_id]
        path = f["paths"][-1] if f["paths"] else "?"  # the latest name it was recorded under
        return f"{path}@{node_id[:12]}"

    # ---------------------------------------------------------- walking on
    def upstream(self, depth=_SAME) -> Lineage:
        """What the targets came from: producers, their inputs, their producers ..."""
        return self._again("upstream", depth)

    def downstream(self, depth=_SAME) -> Lineage:
        """What was made from the targets: consumers, their outputs, their consumers ..."""
        return self._again("downstream", depth)

    def _again(self, direction: str, depth) -> Lineage:
        depth = self.depth if depth is _SAME else _check_depth(depth)
        again = Lineage(self._g, self.targets, direction, depth, self.title)
        again.store_layout = self.store_layout
        return again

    # ---------------------------------------------------------- exports
    def to_polars(self):
        """``(nodes, edges)`` as polars frames."""
        import polars as pl

        nodes = self.nodes
        dt = pl.Datetime("us", "UTC")
        frame = pl.DataFrame(
            {
                "id": [n["id"] for n in nodes],
                "kind": [n["kind"] for n in nodes],
                "label": [n["label"] for n in nodes],
                "distance": [n["distance"] for n in nodes],
                "is_target": [n["id"] in self.targets for n in nodes],
                "name": [n.get("name") for n in nodes],
                "experiment": [n.get("experiment") for n in nodes],
                "status": [n.get("status") for n in nodes],
                "started": [_us(n.get("started")) for n in nodes],
                "sha256": [n.get("sha256") for n in nodes],
                "paths": [_joined(n.get("paths")) for n in nodes],
                "size": [n.get("size") for n in nodes],
                "first_seen": [_us(n.get("first_seen")) for n in nodes],
            },
            schema={
                "id": pl.String, "kind": pl.String, "label": pl.String, "distance": pl.Int64,
                "is_target": pl.Boolean, "name": pl.String, "experiment": pl.String,
                "status": pl.String, "started": pl.Int64, "sha256": pl.String,
                "paths": pl.String, "size": pl.Int64, "first_seen": pl.Int64,
            },
        ).with_columns(
            pl.col("started").cast(dt), pl.col("first_seen").cast(dt), _split(pl.col("paths")),
        )
        edges = self.edges
        edge_frame = pl.DataFrame(
            {
                "source": [e["source"] for e in edges],
                "target": [e["target"] for e in edges],
                "relation": [e["relation"] for e in edges],
                "paths": [_joined(e["paths"]) or "" for e in edges],
            },
            schema={"source": pl.String, "target": pl.String, "relation": pl.String,
                    "paths": pl.String},
        ).with_columns(_split(pl.col("paths")))
        return frame, edge_frame

    def to_dot(self) -> str:
        """The graph as Graphviz DOT text: runs are boxes, file versions ellipses."""
        lines = ["digraph lineage {", "  rankdir=LR;", '  node [fontname="Helvetica"];']
        for n in self.nodes:
            if n["kind"] == "run":
                text = f"{n['name']}\n{n['experiment']} · {n['status']}"
                shape = "box"
            else:
                text = "\n".join([*n["paths"], f"{n['sha256'][:12]} · {_size(n['size'])}"])
                shape = "ellipse"
            extra = ", penwidth=2" if n["id"] in self.targets else ""
            lines.append(f'  "{_dot(n["id"])}" [shape={shape}, label="{_dot(text)}"{extra}];')
        for e in self.edges:
            label = "produced" if e["relation"] == "produced" else "used by"
            lines.append(f'  "{_dot(e["source"])}" -> "{_dot(e["target"])}" [label="{label}"];')
        lines.append("}")
        return "\n".join(lines) + "\n"

    # ---------------------------------------------------------- display
    def _rows(self):
        """Per run: (run node, files it used here, files it produced here), each file as
        (sha256, ``path@sha`` with the path that run recorded)."""
        keep = self.distance
        for r in self.runs:
            rid = r["id"]
            used = [(s, self._as_recorded(s, rid)) for s in sorted(self._g.used[rid]) if s in keep]
            made = [(s, self._as_recorded(s, rid)) for s in sorted(self._g.produced[rid])
                    if s in keep]
            yield r, used, made

    def _as_recorded(self, sha: str, run_id: str) -> str:
        paths = self._g.edge_paths.get((sha, run_id)) or self._g.edge_paths.get((run_id, sha))
        return f"{paths[0]}@{sha[:12]}" if paths else self._label(sha)

    def _summary(self) -> str:
        n_runs = sum(1 for n in self.distance if n in self._g.runs)
        n_files = len(self.distance) - n_runs
        depth = "all" if self.depth is None else str(self.depth)
        return (f"{self.direction}, depth {depth}: {n_runs} run{'s' * (n_runs != 1)}, "
                f"{n_files} file version{'s' * (n_files != 1)}")

    def __repr__(self) -> str:
        lines = [f"<Lineage of {self.title} ({self._summary()})"]
        for r, used, made in self._rows():
            mark = "*" if r["id"] in self.targets else " "
            lines.append(f" {mark}{_arrow(r['distance'])} run {r['name']} [{r['experiment']}, "
                         f"{r['status']}] {r['id']}")
            lines += [f"       used      {label}" for _, label in used]
            lines += [f"       produced  {label}" for _, label in made]
        return "\n".join(lines) + ">"

    def _repr_mimebundle_(self, include=None, exclude=None):
        hook = display_hook
        bundle = hook(self, include, exclude) if hook is not None else None
        return bundle if bundle is not None else {"text/plain": repr(self), "text/html": self._repr_html_()}

    def _repr_html_(self) -> str:
        esc = html.escape
        head = (f"<p><b>Lineage</b> of <code>{esc(self.title)}</code> "
                f"<small>({esc(self._summary())})</small></p>")
        rows = []

        def files(refs):
            return "<br>".join(
                f"<code>{esc(label)}</code> "
                f"<small>{esc(_size(self._g.files[s]['size']))}</small>"
                + ("" if s not in self.targets else " ◀")
                for s, label in refs
            )

        for r, used, made in self._rows():
            weight = "font-weight:bold;" if r["id"] in self.targets else ""
            rows.append(
                f'<tr style="{weight}"><td>{esc(_arrow(r["distance"]))}</td>'
                f"<td>{esc(str(r['name']))}<br><small>{esc(r['id'])}</small></td>"
                f"<td>{esc(str(r['experiment']))}</td><td>{esc(str(r['status']))}</td>"
                f"<td>{esc(_when(r['started']))}</td><td>{files(used)}</td><td>{files(made)}</td></tr>"
            )
        table = (
            "<table><thead><tr><th></th><th>run</th><th>experiment</th><th>status</th>"
            "<th>started</th><th>used</th><th>produced</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
        )
        return f'<div class="nbtrack-lineage">{head}{table}</div>'


def _arrow(distance: int) -> str:
    if distance < 0:
        return f"↑{-distance}"
    if distance > 0:
        return f"↓{distance}"
    return "·"


def _joined(paths: list | None) -> str | None:
    """Paths as one string (NUL cannot occur in a path): polars builds list columns from
    Python lists one element at a time, and splits a string column in bulk."""
    return None if paths is None else "\x00".join(paths)


def _split(col):
    import polars as pl

    return pl.when(col == "").then(pl.lit([], dtype=pl.List(pl.String))).otherwise(
        col.str.split("\x00")).alias("paths")


def _dot(text: str) -> str:
    return (text.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "")
            .replace("\n", "\\n"))


def _size(size: object) -> str:
    if not isinstance(size, int):
        return "?"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def _when(t: float | None) -> str:
    if t is None:
        return ""
    from datetime import datetime, timezone

    return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _us(t: float | None) -> int | None:
    return None if t is None else int(round(t * 1_000_000))


def _check_depth(depth) -> int | None:
    if depth is None:
        return None
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 0:
        raise ValueError(f"depth must be None (all the way) or an integer >= 0, got {depth!r}")
    return depth


# ------------------------------------------------------------------ targets
def resolve(g: Graph, target: object, all_versions: bool = False) -> tuple[list[str], str]:
    """The node ids ``target`` names, and how to call it.

    A Run (or its id or name) is that run. A 64-hex string is a file version. A
    path is the version the file holds now when a run recorded that content, else
    every version recorded under the path (``all_versions=True``: always all of
    them, plus the current one). A hex prefix of 7+ characters names a version.
    """
    ref = getattr(target, "id", None)
    if isinstance(ref, str):
        if ref in g.runs:
            return [ref], g.runs[ref]["name"] or ref
        raise LineageTargetError(f"run {ref!r} is not in the store's index")
    if isinstance(target, dict) and isinstance(target.get("run_id"), str):
        return resolve(g, target["run_id"])
    if not isinstance(target, (str, os.PathLike)):
        raise LineageTargetError(
            f"lineage takes a file path, a sha256, a run id or name, or a Run; got "
            f"{type(target).__name__}"
        )
    text = os.fspath(target)
    if objects_sha(text.lower()):
        if text.lower() in g.files:
            return [text.lower()], _short(g, text.lower())
        raise LineageTargetError(f"no run used or produced content with sha256 {text}")
    found = _by_path(g, text, all_versions)
    if found:
        return found
    rid = text if text in g.runs else g.by_name.get(text)
    if rid is not None:
        return [rid], g.runs[rid]["name"] or rid
    if _HEX.match(text.lower()):
        hits = [s for s in g.files if s.startswith(text.lower())]
        if len(hits) == 1:
            return hits, _short(g, hits[0])
    where = "exists but its content was never recorded by a run, and no run recorded that path" \
        if os.path.isfile(text) else "is not a recorded file path, a sha256, or a run id or name"
    raise LineageTargetError(
        f"{text!r} {where}. Record files with run.use_input(path) / run.log_output(path) "
        "or start runs with trace_files=True."
    )


def _short(g: Graph, sha: str) -> str:
    f = g.files[sha]
    return f"{f['paths'][-1] if f['paths'] else '?'}@{sha[:12]}"


def _by_path(g: Graph, text: str, all_versions: bool) -> tuple[list[str], str] | None:
    current = None
    if os.path.isfile(text):
        try:
            current = objects.hash_file(text).sha256
        except OSError:
            current = None
    keys = {_norm(text)}
    absolute = os.path.abspath(text)
    keys.add(_norm(absolute))
    try:
        keys.add(_norm(os.path.relpath(absolute)))
    except ValueError:  # another drive (Windows)
        pass
    recorded: set[str] = set()
    for key in keys:
        recorded |= g.by_path.get(key, set())
    if current is not None and current in g.files and not all_versions:
        return [current], f"{text}@{current[:12]}"
    found = recorded | ({current} if current in g.files else set())
    if not found:
        return None
    ordered = sorted(found, key=lambda s: (g.files[s]["first_seen"] or 0.0, s))
    return ordered, f"{text} ({len(ordered)} version{'s' * (len(ordered) != 1)})"


def lineage(layout: Layout, target: object, depth: int | None = None,
            direction: str = "both", all_versions: bool = False) -> Lineage:
    """See ``nbtrack.lineage``."""
    from .runs import current_rows

    way = DIRECTIONS.get(direction) if isinstance(direction, str) else None
    if way is None:
        raise ValueError(f"direction must be 'both', 'upstream' or 'downstream', got {direction!r}")
    depth = _check_depth(depth)
    graph = build(current_rows(layout))
    targets, title = resolve(graph, target, all_versions)
    result = Lineage(graph, targets, way, depth, title)
    result.store_layout = layout
    return result
