"""Execute an exported notebook in a fresh kernel and prove it reproduced the run.

``reproduce`` checks the export is unedited (every cell against the sha256
written at export), runs it top to bottom with nbclient, finds the run it made
(marked as a reproduction of the original), and compares the two: code (cell
hashes in order), input hashes, params, and every metric at every step within a
tolerance. The report lists each difference. Differences nbtrack could not
control are labelled, not hidden: a metric named like a duration (``time``,
``elapsed``, ``*_s``), values that are wall-clock timestamps, and metrics logged by
a run cell that reads the wall clock or OS entropy (the export records which,
``uncontrolled``). ``ok`` means no other difference: the science reproduced;
``exact`` means no difference at all.
"""

from __future__ import annotations

import html
import math
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import NbtrackError
from ..query import metrics as metrics_q
from ..query import runs as runs_q
from ..store.layout import Layout
from .export import FINISH_SOURCE, sha256_text


@dataclass
class Difference:
    kind: str  # code | export | input | param | metric | missing_metric | extra_metric | execution
    what: str
    original: object = None
    reproduced: object = None
    step: int | None = None
    uncontrolled: str | None = None  # why nbtrack could not control it, when it could not

    def __str__(self) -> str:
        where = f" at step {self.step}" if self.step is not None else ""
        label = f" [uncontrolled: {self.uncontrolled}]" if self.uncontrolled else ""
        if self.original is None and self.reproduced is None:
            return f"{self.kind}: {self.what}{where}{label}"
        return (f"{self.kind}: {self.what}{where}: {self.original!r} -> {self.reproduced!r}"
                f"{label}")


@dataclass
class ReproReport:
    notebook: str
    original_run_id: str
    new_run_id: str | None
    differences: list[Difference] = field(default_factory=list)
    timings: dict = field(default_factory=dict)
    compared: dict = field(default_factory=dict)

    @property
    def real(self) -> list[Difference]:
        """Differences nbtrack could have prevented: the run did not reproduce."""
        return [d for d in self.differences if not d.uncontrolled]

    @property
    def uncontrolled(self) -> list[Difference]:
        """Differences in values no fresh kernel can repeat (clock, entropy), labelled."""
        return [d for d in self.differences if d.uncontrolled]

    @property
    def ok(self) -> bool:
        return self.new_run_id is not None and not self.real

    @property
    def exact(self) -> bool:
        return self.new_run_id is not None and not self.differences

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        head = "REPRODUCED" if self.ok else "NOT REPRODUCED"
        if self.ok and self.uncontrolled:
            head += f" (apart from {len(self.uncontrolled)} uncontrolled difference(s))"
        lines = [f"{head}: {self.notebook}", f"  original run {self.original_run_id}",
                 f"  reproduction run {self.new_run_id}"]
        lines += [f"  compared: {', '.join(f'{k} {v}' for k, v in self.compared.items())}"]
        lines += [f"  {k}: {v:.2f}s" for k, v in self.timings.items() if isinstance(v, float)]
        real, other = self.real, self.uncontrolled
        lines += [f"  - {d}" for d in real[:50]]
        if len(real) > 50:
            lines.append(f"  ... and {len(real) - 50} more")
        if other:
            lines.append("  uncontrolled (nbtrack could not control these; shown, not counted):")
            lines += [f"  ~ {d}" for d in other[:50]]
            if len(other) > 50:
                lines.append(f"  ~ ... and {len(other) - 50} more")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        esc = html.escape
        color = "#1a7f37" if self.ok else "#cf222e"
        head = "✔ reproduced" if self.ok else "✘ not reproduced"
        if self.ok and self.uncontrolled:
            head += f" (apart from {len(self.uncontrolled)} uncontrolled difference(s))"
        rows = "".join(
            f"<tr><td>{esc(d.kind)}</td><td>{esc(d.what)}</td><td>{esc('' if d.step is None else str(d.step))}</td>"
            f"<td>{esc(repr(d.original))}</td><td>{esc(repr(d.reproduced))}</td>"
            f"<td>{esc(d.uncontrolled or 'real')}</td></tr>"
            for d in [*self.real, *self.uncontrolled][:200]
        )
        table = (f"<table><tr><th>kind</th><th>what</th><th>step</th><th>original</th>"
                 f"<th>reproduced</th><th>controlled?</th></tr>{rows}</table>") if rows else ""
        compared = ", ".join(f"{esc(str(v))} {esc(k)}" for k, v in self.compared.items())
        return (f'<div><b style="color:{color}">{head}</b> <code>{esc(self.notebook)}</code><br>'
                f"original <code>{esc(self.original_run_id)}</code> → reproduction "
                f"<code>{esc(str(self.new_run_id))}</code><br>compared {compared}{table}</div>")


def check_export(nb) -> list[Difference]:
    """Cells whose source no longer matches the hash recorded at export."""
    meta = nb.metadata.get("nbtrack") or {}
    diffs = []
    expected = {c["cell"]: c for c in meta.get("cells") or []}
    code_cells = {i for i, c in enumerate(nb.cells) if c.cell_type == "code"}
    for i in sorted(code_cells | set(expected)):
        want = expected.get(i)
        source = nb.cells[i].source if i < len(nb.cells) else None
        first = (source or "").strip().splitlines()[0][:60] if (source or "").strip() else ""
        if want is None:
            diffs.append(Difference("export", f"cell {i} was added after export ({first!r})"))
        elif source is None:
            diffs.append(Difference("export", f"cell {i} ({want['role']}) was removed after export"))
        elif sha256_text(source) != want["sha256"]:
            diffs.append(Difference("export", f"cell {i} ({want['role']}) was edited after export ({first!r})"))
    return diffs


def _close(a: float, b: float, tolerance: float) -> bool:
    if math.isnan(a) and math.isnan(b):
        return True
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= tolerance * max(1.0, abs(a), abs(b))


_TIME_NAME = re.compile(
    r"(^|[^a-z])(time|times|timing|elapsed|duration|seconds|secs|runtime|latency|wall|clock|"
    r"timestamp|throughput|fps|speed)([^a-z]|$)|(_s|_ms|_us|_ns|_sec)$", re.IGNORECASE)


def _epoch(value: float) -> bool:
    """Whether a value looks like a wall-clock timestamp (seconds or ms since 1970)."""
    return 9e8 < value < 5e9 or 9e11 < value < 5e12


def _iso_seconds(text: str | None) -> float | None:
    if not text:
        return None
    from datetime import datetime

    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def _seconds(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) else _iso_seconds(value)


class _Uncontrolled:
    """Labels a metric difference nbtrack could not control, from the original run's
    cells (which cell logged a point, by time) and the export's record of run cells
    that read the wall clock or OS entropy."""

    def __init__(self, cells: list[dict], flagged: list[dict]):
        self.spans = [(_seconds(c.get("started")), _seconds(c.get("ended")), c.get("sha256"))
                      for c in cells if _seconds(c.get("started")) is not None]
        self.flagged = {f["sha256"]: f for f in flagged}

    def metric(self, key: str, original: float | None, reproduced: float | None,
               logged_at: str | None) -> str | None:
        if _TIME_NAME.search(key):
            return f"the metric is named like a time ({key})"
        values = [v for v in (original, reproduced) if isinstance(v, (int, float))]
        if values and all(_epoch(v) for v in values):
            return "the value looks like a wall-clock timestamp"
        when = _iso_seconds(logged_at)
        if when is not None:
            for started, ended, sha in self.spans:
                # metric times are kept to the millisecond: allow that much either side
                if started - 2e-3 <= when <= (ended or when) + 2e-3 and sha in self.flagged:
                    f = self.flagged[sha]
                    return f"logged by In [{f.get('execution_count')}], which {f['why'][0]}"
        return None


def compare(layout: Layout, original: str, new: str, tolerance: float,
            skip: frozenset[str] = frozenset(), flagged: list[dict] | None = None,
            ) -> tuple[list[Difference], dict]:
    """Differences between two runs. ``skip``: sha256 of cells the export added (setup,
    random state, finish), not part of the code compared; ``flagged``: the export's
    run cells whose values nbtrack cannot control."""
    a = runs_q.get_run(layout, original, with_metrics=False)
    b = runs_q.get_run(layout, new, with_metrics=False)
    diffs: list[Difference] = []
    skip = skip | {sha256_text(FINISH_SOURCE)}
    code_a = [c["sha256"] for c in a.get("cells") or [] if c.get("ok") is not False]
    code_b = [c["sha256"] for c in b.get("cells") or [] if c["sha256"] not in skip and c.get("ok") is not False]
    for i in range(max(len(code_a), len(code_b))):
        ha = code_a[i] if i < len(code_a) else None
        hb = code_b[i] if i < len(code_b) else None
        if ha != hb:
            diffs.append(Difference("code", f"run cell {i + 1}", ha and ha[:12], hb and hb[:12]))
    ins_a = {i["path"]: i["sha256"] for i in a.get("inputs") or []}
    ins_b = {i["path"]: i["sha256"] for i in b.get("inputs") or []}
    for path in sorted(set(ins_a) | set(ins_b)):
        if ins_a.get(path) != ins_b.get(path):
            diffs.append(Difference("input", path, (ins_a.get(path) or "")[:12] or None,
                                    (ins_b.get(path) or "")[:12] or None))
    label = _Uncontrolled(a.get("cells") or [], flagged or [])
    pa, pb = a.get("params") or {}, b.get("params") or {}
    for key in sorted(set(pa) | set(pb)):
        if pa.get(key) != pb.get(key):
            why = f"the param is named like a time ({key})" if _TIME_NAME.search(key) else None
            diffs.append(Difference("param", key, pa.get(key), pb.get(key), uncontrolled=why))
    points = 0
    ma, mb = metrics_q.series(layout, a["run_id"]), metrics_q.series(layout, b["run_id"])
    for key in sorted(set(ma) | set(mb)):
        if key not in mb:
            diffs.append(Difference("missing_metric", key))
            continue
        if key not in ma:
            diffs.append(Difference("extra_metric", key))
            continue
        times = ma[key].get("times") or [None] * len(ma[key]["steps"])
        sa = list(zip(ma[key]["steps"], ma[key]["values"], times, strict=True))
        sb = list(zip(mb[key]["steps"], mb[key]["values"], strict=True))
        if len(sa) != len(sb):
            diffs.append(Difference("metric", f"{key}: number of points", len(sa), len(sb),
                                    uncontrolled=label.metric(key, None, None, times[0])))
        for (step_a, va, when), (step_b, vb) in zip(sa, sb, strict=False):
            points += 1
            if step_a != step_b:
                diffs.append(Difference("metric", f"{key}: step", step_a, step_b,
                                        uncontrolled=label.metric(key, None, None, when)))
            elif not _close(va, vb, tolerance):
                diffs.append(Difference("metric", key, va, vb, step=step_a,
                                        uncontrolled=label.metric(key, va, vb, when)))
    compared = {"cells": len(code_a), "inputs": len(ins_a), "params": len(pa),
                "metrics": len(ma), "points": points}
    return diffs, compared


def _find_reproduction(layout: Layout, original: str, since: float) -> str | None:
    found = [
        r for r in runs_q.current_rows(layout)
        if (r.get("extra") or {}).get("reproduces") == original and (r.get("started") or 0) >= since
    ]
    found.sort(key=lambda r: r.get("started") or 0)
    return found[-1]["run_id"] if found else None


def _progress(total: int, stream):
    state = {"start": time.monotonic(), "cell": 0}

    def on_cell_start(cell, cell_index, **_):
        if cell.cell_type == "code":
            state["cell"] = cell_index
            state["t"] = time.monotonic()

    def on_cell_executed(cell, cell_index, execute_reply, **_):
        if cell.cell_type != "code":
            return
        status = (execute_reply or {}).get("content", {}).get("status", "?")
        took = time.monotonic() - state.get("t", state["start"])
        stream.write(f"[{cell_index + 1}/{total}] {status} {took:.2f}s\n")
        stream.flush()

    return on_cell_start, on_cell_executed


def reproduce(layout: Layout, notebook: str | os.PathLike, tolerance: float = 1e-9,
              timeout: float = 600, stream=None) -> ReproReport:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    __tracebackhide__ = True  # noqa: F841 - IPython hides this frame
    stream = stream or sys.stdout
    path = Path(notebook)
    if not path.is_file():
        raise FileNotFoundError(f"no exported notebook at {path} (nbtrack.export(run, path) writes one)")
    nb = nbformat.read(str(path), as_version=4)
    meta = nb.metadata.get("nbtrack")
    if not meta or "run_id" not in meta:
        raise NbtrackError(f"{path} is not an nbtrack export (no metadata.nbtrack.run_id)")
    original = meta["run_id"]
    report = ReproReport(str(path), original, None)
    report.differences += check_export(nb)
    cwd = meta.get("cwd") if meta.get("cwd") and Path(meta["cwd"]).is_dir() else str(path.parent)
    env = dict(os.environ, NBTRACK_HOME=str(layout.root))
    env.pop("NBTRACK_RUN_ID", None)
    start, done = _progress(len(nb.cells), stream)
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": cwd}},
        on_cell_start=start, on_cell_executed=done,
        extra_arguments=["--IPKernelApp.log_level=ERROR"],  # no transport chatter in the report
    )
    since = time.time()
    stream.write(f"reproducing run {original} from {path} in a fresh kernel...\n")
    t0 = time.monotonic()
    try:
        client.execute(env=env)
    except CellExecutionError as exc:
        summary = [line for line in str(exc).strip().splitlines() if line.strip()]
        report.differences.append(Difference("execution", summary[-1] if summary else repr(exc)))
    report.timings["execution_s"] = time.monotonic() - t0
    report.new_run_id = _find_reproduction(layout, original, since - 1)
    if report.new_run_id is None:
        report.differences.append(Difference("execution", "the notebook made no reproduction run"))
        return report
    added = frozenset(c["sha256"] for c in meta.get("cells") or []
                      if c.get("role") not in ("run", "dependency"))
    diffs, compared = compare(layout, original, report.new_run_id, tolerance, skip=added,
                              flagged=meta.get("uncontrolled") or [])
    report.differences += diffs
    report.compared = compared
    orig_log = runs_q.get_run(layout, original, with_metrics=False)
    new_log = runs_q.get_run(layout, report.new_run_id, with_metrics=False)
    if isinstance(orig_log.get("duration_s"), float):
        report.timings["original_run_s"] = orig_log["duration_s"]
    if isinstance(new_log.get("duration_s"), float):
        report.timings["reproduced_run_s"] = new_log["duration_s"]
    stream.write(f"{'reproduced' if report.ok else 'NOT reproduced'}: "
                 f"{len(report.differences)} difference(s)\n")
    return report
