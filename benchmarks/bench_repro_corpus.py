"""Export and reproduce on real example scripts recorded as messy notebook sessions.

Takes a folder of example scripts written by others (statsmodels' examples, the
matplotlib and seaborn galleries, scikit-learn's examples: small or bundled data,
no network), kept outside this repository. Each script is cut into cells at its
``# %%`` markers and comment blocks, then run in a real kernel the way people run
notebooks: the first cell before ``%load_ext nbtrack``, the first half before
``%track start``, two cells run out of order (the later one first), a cell re-run
before and one inside the run, an unrelated cell that raises; then a cell logs a
summary of what the run's cells computed, and ``%track stop``.

Each run is exported twice, by nbtrack's slice and by the naive "replay every
cell that did not raise", and both are reproduced in a fresh kernel. Minimality
is checked by deleting cells: an export is minimal when deleting any one of its
earlier cells breaks the reproduction. Prints a table and the totals; ``--json``
writes every result.

    python benchmarks/bench_repro_corpus.py /work/corpus-13/src [--only NAME] [--json OUT]
        [--no-minimal]

The scripts' libraries must be importable by the Python that runs this.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE / "tests"))
# --code DIR measures another nbtrack tree (an older commit, extracted with git archive)
CODE = Path(sys.argv[sys.argv.index("--code") + 1]) if "--code" in sys.argv else HERE
sys.path.insert(0, str(CODE))

START = "%track start corpus --name target"
RAISES = "undefined_helper_from_another_notebook(result)"
PROBE = """
import json as _j, math as _m
def _nbt_summ(v):
    try:
        import numpy as _n
        a = _n.asarray(getattr(v, "params", v), dtype=float).ravel()
    except Exception:
        return None
    a = a[_n.isfinite(a)]
    return float(a.sum()) if a.size else None
_out = {}
for _k in %r:
    if _k in globals():
        _s = _nbt_summ(globals()[_k])
        if _s is not None and _m.isfinite(_s):
            _out[_k] = _s
print("NBT-PROBE" + _j.dumps(_out))
"""


def split_cells(source: str) -> list[str]:
    """Cells of a script: a new one at ``# %%`` and after each comment block."""
    import ast

    try:  # drop a leading module docstring
        tree = ast.parse(source)
        if tree.body and isinstance(tree.body[0], ast.Expr) and isinstance(
                getattr(tree.body[0], "value", None), ast.Constant):
            lines = source.splitlines()
            source = "\n".join(lines[tree.body[0].end_lineno:])
    except SyntaxError:
        pass
    cells: list[list[str]] = [[]]
    in_comment = False
    prev_blank = True
    for line in source.splitlines():
        stripped = line.strip()
        if line.startswith("# %%") or line.startswith("####"):
            cells.append([])
            in_comment, prev_blank = True, False
            continue
        if line.startswith("#") and (prev_blank or in_comment):
            in_comment = True
            prev_blank = False
            continue
        if stripped and in_comment and any(x.strip() for x in cells[-1]):
            cells.append([])
        if stripped:
            in_comment = False
        cells[-1].append(line)
        prev_blank = not stripped
    out = ["\n".join(c).strip("\n") for c in cells]
    out = [c for c in out if c.strip() and not all(
        x.strip().startswith("#") or not x.strip() for x in c.splitlines())]
    if len(out) < 4:  # a gallery script in one block: cut at blank lines between statements
        out = [part for c in out for part in _split_statements(c)]
    while len(out) > 16:  # merge the two smallest neighbours
        i = min(range(len(out) - 1), key=lambda j: len(out[j]) + len(out[j + 1]))
        out[i:i + 2] = [out[i] + "\n\n" + out[i + 1]]
    return out


def _split_statements(code: str) -> list[str]:
    import ast

    try:
        tree = ast.parse(code)
    except SyntaxError:
        return [code]
    lines = code.splitlines()
    cuts = [0]
    for stmt in tree.body[1:]:
        start = stmt.lineno - 1
        while start > 0 and lines[start - 1].lstrip().startswith("#"):
            start -= 1  # a comment above a statement belongs to it
        if start > 0 and not lines[start - 1].strip():
            cuts.append(start)
    cuts.append(len(lines))
    parts = ["\n".join(lines[a:b]).strip("\n") for a, b in zip(cuts, cuts[1:], strict=False)]
    return [p for p in parts if p.strip()]


def messy_session(cells: list[str]) -> tuple[list[str], int]:
    """The cells as run, and where the run starts."""
    h = max(2, len(cells) // 2)
    before, after = cells[:h], cells[h:] or [cells[-1]]
    run = [before[0], "%load_ext nbtrack"]
    rest = before[1:]
    if len(rest) >= 2:  # out of order: the second cell first, then both in order
        run += [rest[1], rest[0], rest[1]] + rest[2:]
    else:
        run += rest
    run.append(RAISES)
    if len(before) >= 2:
        run.append(before[-1])  # re-run
    start = len(run)
    run.append(START)
    run += after[:1] + after[:1] + after[1:]  # a re-run inside the run
    return run, start


def record(script: Path, folder: Path, store: Path) -> dict:
    from nbtrack.repro.analysis import analyse

    from kernel import Kernel

    cells = split_cells(script.read_text())
    session, start = messy_session(cells)
    run_defs: list[str] = []
    for c in session[start + 1:]:
        run_defs += sorted(analyse(c).defs)
    for c in reversed(session[:start]):  # when the run's cells only plot: what they plot
        run_defs += sorted(analyse(c).defs)
    env = {"NBTRACK_HOME": str(store), "PYTHONPATH": os.pathsep.join([str(CODE), *sys.path]),
           "MPLBACKEND": "agg"}
    results = []
    with Kernel(folder, env) as k:
        for cell in session:
            r = k.run(cell, timeout=600)
            results.append(r.ok)
        out: list[str] = []
        k.kc.execute_interactive(PROBE % list(dict.fromkeys(reversed(run_defs))),
                                 store_history=False, timeout=120,
                                 output_hook=lambda m: out.append(m["content"].get("text", ""))
                                 if m["msg_type"] == "stream" else None)
        text = "".join(out)
        found = json.loads(text.split("NBT-PROBE", 1)[1]) if "NBT-PROBE" in text else {}
        names = list(found)[:5]
        log = ("import nbtrack\nimport numpy as _np\n"
               "def _nbt_summ(v):\n"
               "    a = _np.asarray(getattr(v, 'params', v), dtype=float).ravel()\n"
               "    return float(a[_np.isfinite(a)].sum())\n"
               + "".join(f"nbtrack.log({{{n!r}: _nbt_summ({n})}})\n" for n in names))
        session += [log, "%track stop"]
        results.append(k.run(log).ok)
        results.append(k.run("%track stop").ok)
    return {"cells": len(cells), "session": session, "ok": results, "logged": names}


def _drop_cell(nb, index: int):
    """The export without code cell ``index``, its metadata renumbered (so the check that
    the export is unedited still passes: this is a deletion we make on purpose)."""
    nb = copy.deepcopy(nb)
    del nb.cells[index]
    meta = nb.metadata["nbtrack"]
    meta["cells"] = [dict(c, cell=c["cell"] - (c["cell"] > index))
                     for c in meta["cells"] if c["cell"] != index]
    return nb


def needed_by_deletion(path: Path, folder: Path, early_exit: bool, order=None) -> dict:
    """For each earlier cell of an export: does the export still reproduce without it?"""
    import nbformat

    import nbtrack

    nb = nbformat.read(str(path), as_version=4)
    deps = [c for c in nb.metadata["nbtrack"]["cells"] if c["role"] == "dependency"]
    if order:
        deps.sort(key=lambda c: order(c))
    unneeded = []
    tried = 0
    for entry in deps:
        trial = folder / f"without-{entry['cell']}.ipynb"
        nbformat.write(_drop_cell(nb, entry["cell"]), str(trial))
        tried += 1
        report = nbtrack.reproduce(trial, progress=False)
        if report.ok:
            unneeded.append(entry["execution_count"])
            if early_exit:
                break
    return {"dependencies": len(deps), "tried": tried, "unneeded": unneeded}


def one(script: Path, minimal: bool) -> dict:
    import nbformat

    import nbtrack
    from nbtrack import active
    from nbtrack.repro.export import export

    folder = Path(tempfile.mkdtemp(prefix=f"corpus-{script.stem}-"))
    store = folder / "store"
    os.environ["NBTRACK_HOME"] = str(store)
    active._layouts.clear()
    t0 = time.monotonic()
    rec = record(script, folder, store)
    layout = active.layout_for(store)
    found = nbtrack.runs(where='name == "target"')
    row = {"script": script.stem, "cells": rec["cells"], "session_cells": len(rec["session"]),
           "raised": rec["ok"].count(False), "logged": rec["logged"]}
    if found.is_empty() or not rec["logged"]:
        row["error"] = "no run or nothing to log"
        return row
    run_id = found["run_id"][0]
    ours = export(layout, run_id, folder / "nbtrack.ipynb")
    try:
        naive = export(layout, run_id, folder / "naive.ipynb", keep_all=True)
    except TypeError:  # an older nbtrack (--code) has no naive export
        naive = None
    for name, path in (("nbtrack", ours), ("naive", naive)):
        if path is None:
            continue
        report = nbtrack.reproduce(path, progress=False)
        nb = nbformat.read(str(path), as_version=4)
        meta = nb.metadata["nbtrack"]
        real = getattr(report, "real", report.differences)
        row[name] = {"ok": report.ok, "exact": getattr(report, "exact", report.ok),
                     "real": [str(d) for d in real],
                     "uncontrolled": [str(d) for d in getattr(report, "uncontrolled", [])],
                     "dependencies": sum(c["role"] == "dependency" for c in meta["cells"])}
    ours_nb = nbformat.read(str(ours), as_version=4)
    row["explain"] = next((c.source for c in ours_nb.cells if "<details>" in c.source), "")
    row["opaque_kept"] = [k["execution_count"] for k in
                          ours_nb.metadata["nbtrack"]["slice"].get("kept", [])
                          if any(r.startswith("opaque") for r in k["reasons"])]
    if minimal:
        if row["nbtrack"]["ok"]:
            row["nbtrack"]["deletion"] = needed_by_deletion(ours, folder, early_exit=False)
        if "naive" in row and row["naive"]["ok"]:
            kept = set(ours_nb.metadata["nbtrack"]["slice"]["dependencies"])
            row["naive"]["deletion"] = needed_by_deletion(
                naive, folder, early_exit=True,
                order=lambda c: (c["execution_count"] in kept, c["cell"]))
    row["seconds"] = round(time.monotonic() - t0, 1)
    return row


def _minimal(side: dict) -> bool | None:
    d = side.get("deletion")
    return None if d is None else not d["unneeded"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus")
    ap.add_argument("--only")
    ap.add_argument("--json")
    ap.add_argument("--no-minimal", action="store_true")
    ap.add_argument("--code", help="the nbtrack tree to measure (default: this repository)")
    args = ap.parse_args()
    scripts = sorted(Path(args.corpus).glob("*.py"))
    if args.only:
        scripts = [s for s in scripts if re.search(args.only, s.stem)]
    rows = []
    for script in scripts:
        row = one(script, not args.no_minimal)
        rows.append(row)
        print(json.dumps({k: v for k, v in row.items() if k != "explain"}), flush=True)
        if args.json:
            Path(args.json).write_text(json.dumps(rows, indent=1))
    print(f"\n{'script':42s} {'cells':>5s} {'ran':>4s} {'nbtrack':>16s} {'naive':>16s}")
    for r in rows:
        if "error" in r:
            print(f"{r['script']:42s} {r['cells']:5d} {r['session_cells']:4d} {r['error']}")
            continue
        cols = []
        for side in ("nbtrack", "naive"):
            s = r.get(side)
            if s is None:
                cols.append("-")
                continue
            m = _minimal(s)
            cols.append(f"{'repro' if s['ok'] else 'FAIL':5s} {s['dependencies']:3d} dep "
                        f"{'min' if m else ('-' if m is None else 'extra')}")
        print(f"{r['script']:42s} {r['cells']:5d} {r['session_cells']:4d} {cols[0]:>16s} {cols[1]:>16s}")
    done = [r for r in rows if "error" not in r]
    for side in ("nbtrack", "naive"):
        if not any(side in r for r in done):
            continue
        ok = sum(r[side]["ok"] for r in done)
        minimal = sum(bool(_minimal(r[side])) for r in done)
        print(f"{side}: reproduced {ok}/{len(done)}, minimal {minimal}/{len(done)}")


if __name__ == "__main__":
    main()
