"""Export and reproduce, end to end in real kernels, over the recorded sessions of
``repro_sessions``: the export holds exactly the cells the run needs, and
re-executing it in a fresh kernel reproduces the run's metrics."""

from __future__ import annotations

import os
import sys

import nbformat
import pytest

import nbtrack

from kernel import Kernel
from repro_sessions import SESSIONS, Session


def record(session: Session, folder, store) -> str:
    session.prepare(folder)
    env = {"NBTRACK_HOME": str(store), "PYTHONPATH": os.pathsep.join(sys.path)}
    with Kernel(folder, env) as k:
        for cell in session.cells:
            k.run(cell)
    return nbtrack.runs(where='name == "target"')["run_id"][0]


def exported_positions(nb, session: Session) -> set[int]:
    """Positions in the session of the exported dependency cells."""
    meta = nb.metadata["nbtrack"]["cells"]
    sources = [nb.cells[c["cell"]].source for c in meta if c["role"] == "dependency"]
    positions = set()
    for src in sources:
        for i, cell in enumerate(session.cells):
            if cell == src or src.endswith(cell.split("\n", 1)[-1]) and "%track" in src:
                positions.add(i)
                break
        else:
            raise AssertionError(f"exported a cell that is not in the session: {src!r}")
    return positions


@pytest.mark.parametrize("session", SESSIONS, ids=[s.name for s in SESSIONS])
def test_session_exports_only_what_the_run_needs_and_reproduces(session, tmp_path, store):
    run_id = record(session, tmp_path, store)
    original = nbtrack.get_run(run_id)
    assert original["status"] == "completed", original.get("message")

    path = nbtrack.export(run_id, tmp_path / "export" / "repro.ipynb")
    nb = nbformat.read(str(path), as_version=4)
    nbformat.validate(nb)
    run_positions = {i for i, c in enumerate(session.cells)
                     if c in {r["source"] for r in original["cells"]}}
    assert exported_positions(nb, session) == session.needed - run_positions
    # a warning about undefined names appears only when a name really has no definition
    assert nb.metadata["nbtrack"]["slice"]["unresolved"] == []
    assert "⚠️" not in nb.cells[0].source

    for rel in session.delete_before_reproduce:
        (tmp_path / rel).unlink()
    report = nbtrack.reproduce(path, tolerance=1e-12)
    assert report.ok, repr(report)
    assert report.compared["points"] > 0
    new = nbtrack.get_run(report.new_run_id)
    assert "reproduction" in new["tags"] and new["reproduces"] == run_id
    assert new["experiment"] == original["experiment"]
    for rel in session.delete_before_reproduce:
        assert (tmp_path / rel).exists()


def test_an_edited_export_is_not_ok_and_names_the_cell(tmp_path, store):
    session = next(s for s in SESSIONS if s.name == "cell_edited_and_rerun")
    run_id = record(session, tmp_path, store)
    path = nbtrack.export(run_id, tmp_path / "repro.ipynb")
    nb = nbformat.read(str(path), as_version=4)
    target = next(i for i, c in enumerate(nb.cells) if c.source == "lr = 0.01")
    nb.cells[target].source = "lr = 0.02"
    nbformat.write(nb, str(path))
    report = nbtrack.reproduce(path)
    assert not report.ok
    kinds = {d.kind for d in report.differences}
    assert "export" in kinds and "param" in kinds and "metric" in kinds
    assert any(f"cell {target}" in d.what and "edited" in d.what for d in report.differences)
    assert "NOT REPRODUCED" in repr(report)
