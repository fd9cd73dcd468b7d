"""Export a run to a clean notebook (nbformat v4) that reproduces it in a fresh kernel.

The notebook holds: a markdown cell describing the run; a setup cell that
restores the run's inputs and marks the next run as a reproduction; a
requirements cell (commented out) with the packages the code imports and the
``%pip`` commands the run made; the earlier cells the run depends on
(``slicing``), then the run's own cells exactly as they ran, re-executions
included; before a cell whose draws from a global random generator would not
start where they started in the session, a one-line cell putting the recorded
state back. A collapsed markdown cell says why each earlier cell is there
(``explain``). ``metadata.nbtrack`` records the run's identity and the sha256 of
every exported cell, so ``reproduce`` can tell an edited export, and which run
cells compute values no fresh kernel can repeat (the wall clock, OS entropy).
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
from pathlib import Path

from ..errors import NbtrackError
from ..query import runs as runs_q
from ..store import cell_files, metric_files, objects
from ..store.layout import Layout
from .analysis import to_python
from .explain import explanation
from .slicing import Slice, SliceCell, slice_session

EXPORT_FORMAT = 1
FINISH_SOURCE = (
    "# nbtrack: end the reproduction run if the cells above left it open\n"
    "_nbtrack_repro.finish()"
)
_TRACK_LINE = re.compile(r"^(\s*)(%track\b.*)$", re.MULTILINE)


class ExportError(NbtrackError):
    """A run cannot be exported (it has no recorded cells, say)."""


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def session_rows(layout: Layout, log: dict) -> list[dict]:
    """The kernel history the run lived in, with the run's own cells guaranteed present."""
    session_id = (log.get("code") or {}).get("session_id")
    if not session_id and log.get("sessions"):
        session_id = log["sessions"][0].get("session_id")
    rows = cell_files.read_cells(layout, session_id) if session_id else []
    have = {(r["execution_count"], r["sha256"]) for r in rows if log["run_id"] in (r["run_ids"] or ())}
    for cell in log.get("cells") or []:  # a lost session flush must not lose run cells
        if (cell.get("execution_count"), cell.get("sha256")) not in have:
            rows.append({**cell, "run_ids": [log["run_id"]], "before_load": False})
    rows.sort(key=lambda r: (r.get("started") is not None, r.get("started") or 0,
                             r.get("execution_count") or 0))
    return rows


def _detach_other_runs(source: str) -> str:
    """A dependency cell that tracked another run: keep its code, switch its tracking off."""
    note = "  # nbtrack: another run's tracking, off in this reproduction"
    if source.lstrip().startswith("%%track"):
        head, _, body = source.partition("\n")
        return f"# {head.strip()}{note}\n{body}"
    return _TRACK_LINE.sub(lambda m: f"{m.group(1)}# {m.group(2)}{note}", source)


def _imports(sources: list[str]) -> set[str]:
    import ast

    names: set[str] = set()
    for src in sources:
        try:
            tree = ast.parse(to_python(src))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
    return names


def _requirements(log: dict, code: list[str], the_slice: Slice) -> list[str]:
    from importlib.metadata import packages_distributions

    packages = {k.lower(): (k, v) for k, v in ((log.get("env") or {}).get("packages") or {}).items()}
    mapping = packages_distributions()
    wanted: dict[str, str] = {}
    for module in sorted(_imports(code) | {"nbtrack"}):
        for dist in mapping.get(module, [module]):
            hit = packages.get(dist.lower()) or packages.get(dist.lower().replace("_", "-"))
            if hit:
                wanted[hit[0]] = hit[1]
    lines = [f"# %pip install {name}=={version}" for name, version in sorted(wanted.items())]
    commands = [c["command"] for c in log.get("commands") or [] if c.get("kind") in ("pip", "conda", "uv")]
    for cell in the_slice.dropped + the_slice.cells:
        commands += cell.facts.env_commands
    if commands:
        lines.append("# environment commands run in the session:")
        lines += [f"# {c}" for c in dict.fromkeys(commands)]
    return lines


def _header(log: dict, last: dict, the_slice: Slice, restored: list[dict]) -> str:
    esc = html.escape
    git = log.get("git") or {}
    env = log.get("env_summary") or {}
    code = log.get("code") or {}
    rows = [
        ("experiment", log.get("experiment")), ("run", f"{log.get('name')} ({log['run_id']})"),
        ("status", log.get("status")), ("started", log.get("started")),
        ("duration", f"{log['duration_s']:.1f} s" if log.get("duration_s") is not None else None),
        ("who", log.get("user")), ("where", f"{log.get('host')} · {env.get('os')} · Python {env.get('python')}"),
        ("gpus", ", ".join(env.get("gpus") or []) or None),
        ("code identity", code.get("adhoc_identity")),
        ("git commit", f"{git.get('commit')}{' (dirty)' if git.get('dirty') else ''}" if git else None),
        ("notebook", code.get("notebook")),
    ]
    lines = [f"# Reproduction of run `{esc(str(log.get('name')))}`", "",
             "Exported by nbtrack. Run all cells in a fresh kernel, or check it with "
             "`nbtrack.reproduce(...)`.", "", "| | |", "|---|---|"]
    lines += [f"| {esc(k)} | {esc(str(v))} |" for k, v in rows if v not in (None, "")]
    if log.get("params"):
        lines += ["", "**Parameters**", "", "| param | value |", "|---|---|"]
        lines += [f"| {esc(k)} | {esc(json.dumps(v, default=str))} |" for k, v in sorted(log["params"].items())]
    if last:
        lines += ["", "**Final metrics**", "", "| metric | last value |", "|---|---|"]
        lines += [f"| {esc(k)} | {v:.6g} |" for k, v in sorted(last.items())]
    if restored:
        lines += ["", "**Inputs** (checked against their sha256 before the code runs; a missing or "
                  "changed file is restored from the store's copy)", ""]
        lines += [f"- `{esc(i['path'])}` sha256 `{i['sha256'][:16]}…` ({i.get('size')} bytes)" for i in restored]
    lines += ["", f"Cells: {len(the_slice.dependency_cells)} earlier cell(s) the run depends on, then "
              f"the run's {len(the_slice.run_cells)} cell(s); {len(the_slice.dropped)} cell(s) of the "
              "session were left out."]
    restores = [c for c in the_slice.cells if c.restores]
    if restores:
        lines += ["", "Global random generators are put back in the state they had when "
                  + ", ".join(c.label for c in restores) + " ran, as recorded then."]
    if the_slice.unresolved:
        lines += ["", "⚠️ Names the run reads that no recorded cell defines: "
                  + ", ".join(f"`{esc(n)}`" for n in sorted(the_slice.unresolved))]
    return "\n".join(lines)


def _restore_source(cell: SliceCell) -> str:
    names = ", ".join(sorted(cell.restores))
    return (f"# nbtrack: {names} global random state as it was when {cell.label} ran\n"
            f"_nbtrack_repro.restore_random({json.dumps(dict(sorted(cell.restores.items())))})")


def _secrets_needed(the_slice: Slice) -> list[dict]:
    """The exported cells that held secrets (stored redacted), with the environment
    variables that put them back when the notebook runs (``runtime``)."""
    from ..redaction import REDACTED, secret_slots

    out = []
    for c in the_slice.cells:
        source = c.row.get("source") or ""
        names = secret_slots(source) if REDACTED in source else []
        if names:
            out.append({"execution_count": c.row.get("execution_count"), "names": names})
    return out


def _secrets_note(cells: list[dict]) -> str:
    lines = ["**Secrets.** nbtrack never stores a secret: these cells held one, kept in the "
             "store as `***REDACTED***`. Set these environment variables before running the "
             "notebook; the setup cell puts each value back as its cell runs (the cells' text "
             "stays as shown):", ""]
    for cell in cells:
        names = ", ".join(f"`${n}`" for n in dict.fromkeys(cell["names"]))
        lines.append(f"- cell `In [{cell['execution_count']}]`: {names}")
    return "\n".join(lines)


def export(layout: Layout, ref: object, path: str | os.PathLike, explain: bool = False,
           keep_all: bool = False) -> Path:
    """Write the reproducible notebook for run ``ref`` to ``path``; returns the path.

    ``explain`` prints why each earlier cell was kept (the export always holds the
    same text in a collapsed markdown cell). ``keep_all`` replays every cell that did
    not raise instead of the slice: the naive export, for comparison.
    """
    __tracebackhide__ = True  # noqa: F841 - IPython hides this frame
    import nbformat
    from nbformat import v4

    log = runs_q.get_run(layout, ref, with_metrics=False)
    run_id = log["run_id"]
    rows = session_rows(layout, log)
    if not any(run_id in (r.get("run_ids") or ()) for r in rows):
        raise ExportError(
            f"run {log.get('name')} ({run_id}) has no recorded notebook cells to export; export "
            "works for runs made in a notebook (or IPython) session"
        )
    inputs = [i for i in log.get("inputs") or [] if i.get("sha256") and i.get("path")]
    restorable = [i for i in inputs if objects.has_object(layout, i["sha256"])]
    the_slice = slice_session(rows, run_id, {i["path"] for i in restorable}, keep_all=keep_all)
    last = metric_files.last_values(layout, run_id)

    spec = {
        "run_id": run_id,
        "store": str(layout.root),
        "cwd": log.get("cwd"),
        "inputs": [{"path": i["path"], "sha256": i["sha256"], "size": i.get("size")} for i in restorable],
    }
    secret_cells = _secrets_needed(the_slice)  # redacted literals come back from the environment
    if secret_cells:
        spec["secrets"] = sorted({n for cell in secret_cells for n in cell["names"]})
    setup = (
        "# nbtrack: go to the run's working directory, check its inputs (restoring missing or\n"
        "# changed files from the store) and mark the next run as a reproduction of it.\n"
        "from nbtrack.repro import runtime as _nbtrack_repro\n\n"
        f"_nbtrack_repro.begin({json.dumps(spec, indent=1)})"
    )
    why = explanation(the_slice)
    cells = [v4.new_markdown_cell(_header(log, last, the_slice, restorable)),
             v4.new_markdown_cell("<details><summary>Why these cells (nbtrack)</summary>\n\n"
                                  + why + "\n\n</details>")]
    exported: list[dict] = []

    def add(source: str, role: str, row: dict | None = None) -> None:
        cells.append(v4.new_code_cell(source))
        exported.append({
            "cell": len(cells) - 1, "role": role, "sha256": sha256_text(source),
            "execution_count": (row or {}).get("execution_count"),
            "original_sha256": (row or {}).get("sha256"),
        })

    if secret_cells:
        cells.append(v4.new_markdown_cell(_secrets_note(secret_cells)))
    add(setup, "setup")
    code_sources = [c.row["source"] for c in the_slice.cells]
    add("# Requirements of the original run (uncomment to install):\n"
        + "\n".join(_requirements(log, code_sources, the_slice)), "requirements")
    for c in the_slice.cells:
        if c.restores:
            add(_restore_source(c), "random_state")
        source = c.row["source"]
        if not c.in_run and "track" in c.facts.magics:
            source = _detach_other_runs(source)
        add(source, "run" if c.in_run else "dependency", c.row)
    add(FINISH_SOURCE, "finish")

    nb = v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["nbtrack"] = {
        "format": EXPORT_FORMAT,
        "run_id": run_id,
        "name": log.get("name"),
        "experiment": log.get("experiment"),
        "store": str(layout.root),
        "cwd": log.get("cwd"),
        "session_id": (log.get("code") or {}).get("session_id"),
        "adhoc_identity": (log.get("code") or {}).get("adhoc_identity"),
        "cell_hashes": [c.row["sha256"] for c in the_slice.run_cells],
        "cells": exported,
        "inputs": spec["inputs"],
        "params": log.get("params") or {},
        "env_summary": log.get("env_summary") or {},
        "git": log.get("git"),
        "slice": {
            "dependencies": [c.row.get("execution_count") for c in the_slice.dependency_cells],
            "dropped": [c.row.get("execution_count") for c in the_slice.dropped],
            "unresolved": sorted(the_slice.unresolved),
            "kept": [{"execution_count": c.row.get("execution_count"),
                      "reasons": sorted(c.reasons),
                      "for": {n: sorted(the_slice.history[i].row.get("execution_count") or 0
                                        for i in idx) for n, idx in sorted(c.why.items())}}
                     for c in the_slice.dependency_cells],
            "random_state": [{"execution_count": c.row.get("execution_count"),
                              "restores": c.restores} for c in the_slice.cells if c.restores],
        },
        # run cells whose values a fresh kernel cannot repeat, for reproduce's report
        "uncontrolled": [{"sha256": c.row.get("sha256"), "execution_count": c.row.get(
            "execution_count"), "started": c.row.get("started"), "ended": c.row.get("ended"),
            "why": c.uncontrolled} for c in the_slice.run_cells if c.uncontrolled],
    }
    nbformat.validate(nb)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(out))
    if explain:
        print(why)
    return out
