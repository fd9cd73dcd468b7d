"""How small and how right the export's slice is, over the recorded-session suite.

For each session of ``tests/repro_sessions.py`` (executed cell by cell in a real
kernel) this prints the cells before the run's last cell, the cells the run
needs (the suite's ground truth), what nbtrack exports (observed bindings +
static analysis), what static analysis alone would export, and what a naive
"everything that ran before" export holds; then whether the export reproduced.

    .venv/bin/python benchmarks/bench_repro.py [--no-reproduce]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE / "tests"))


def main() -> None:
    from kernel import Kernel
    from repro_sessions import SESSIONS

    reproduce = "--no-reproduce" not in sys.argv
    rows = []
    for session in SESSIONS:
        folder = Path(tempfile.mkdtemp(prefix="nbtrack-slice-"))
        store = folder / "store"
        os.environ["NBTRACK_HOME"] = str(store)
        session.prepare(folder)
        with Kernel(folder, {"NBTRACK_HOME": str(store)}) as k:
            for cell in session.cells:
                k.run(cell)
        import nbtrack
        from nbtrack import active
        from nbtrack.query import runs as runs_q
        from nbtrack.repro.export import session_rows
        from nbtrack.repro.slicing import slice_session

        active._layouts.clear()
        layout = active.layout_for(store)
        run_id = nbtrack.runs(where='name == "target"')["run_id"][0]
        log = runs_q.get_run(layout, run_id, with_metrics=False)
        history = session_rows(layout, log)
        inputs = {i["path"] for i in log.get("inputs") or []}
        ours = slice_session(history, run_id, inputs)
        static = slice_session([dict(r, bound=None, deleted=None) for r in history], run_id, inputs)
        last = max(i for i, r in enumerate(history) if run_id in (r.get("run_ids") or ()))
        before = sum(1 for r in history[: last + 1] if run_id not in (r.get("run_ids") or ()))
        needed = len(session.needed) - sum(
            1 for i in session.needed if session.cells[i] in {c["source"] for c in log["cells"]}
        )
        ok = None
        took = None
        if reproduce:
            for rel in session.delete_before_reproduce:
                (folder / rel).unlink()
            path = nbtrack.export(run_id, folder / "repro.ipynb")
            t0 = time.monotonic()
            report = nbtrack.reproduce(path, progress=False)
            took = time.monotonic() - t0
            ok = report.ok
        rows.append((session.name, before, needed, len(ours.dependency_cells),
                     len(static.dependency_cells), ok, took))

    print(f"{'session':40s} {'earlier':>7s} {'needed':>6s} {'nbtrack':>7s} {'static':>6s}"
          f" {'reproduced':>10s} {'seconds':>7s}")
    for name, before, needed, ours, static, ok, took in rows:
        print(f"{name:40s} {before:7d} {needed:6d} {ours:7d} {static:6d} {str(ok):>10s}"
              f" {'' if took is None else f'{took:7.1f}'}")
    total_before = sum(r[1] for r in rows)
    total_needed = sum(r[2] for r in rows)
    total_ours = sum(r[3] for r in rows)
    total_static = sum(r[4] for r in rows)
    exact = sum(1 for r in rows if r[2] == r[3])
    print(f"\n{len(rows)} sessions; {exact} exports hold exactly the needed earlier cells;"
          f" reproduced: {sum(1 for r in rows if r[5])}/{len(rows)}")
    print(f"earlier cells: {total_before} in the sessions, {total_needed} needed, nbtrack exported"
          f" {total_ours}, static analysis alone {total_static}")


if __name__ == "__main__":
    main()
