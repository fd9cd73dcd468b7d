"""``reproduce`` must be seen to fail for every kind of difference it claims to find
(one real-kernel test per kind), label what nbtrack could not control without
hiding it, and ``export(..., explain=True)`` must say why each cell is there."""

from __future__ import annotations

import os
import sys

import nbformat
import pytest

import nbtrack
from nbtrack.store import objects

from kernel import Kernel

START = "%track start suite --name target"
STOP = "%track stop"

# a run with a param from a file, an input, a value from an untracked file, and two
# metrics that depend on the environment of the kernel that runs it
CELLS = [
    "%load_ext nbtrack",
    "import os\nlr = float(open('lr.txt').read())",
    START,
    "%track params lr",
    "import nbtrack\npath = nbtrack.use_input('data.txt')\n"
    "vals = [float(x) for x in open(path).read().split(',')]\n"
    "scale = float(open('scale.txt').read())\n"
    "nbtrack.log(total=sum(vals) * lr * scale)",
    "if os.environ.get('NBTRACK_TEST_EXTRA') == '1':\n    nbtrack.log(extra=1.0)\n"
    "if os.environ.get('NBTRACK_TEST_MISSING') != '1':\n    nbtrack.log(maybe=2.0)",
    STOP,
]


def record(folder, store, cells, files) -> str:
    for name, text in files.items():
        (folder / name).write_text(text)
    env = {"NBTRACK_HOME": str(store), "PYTHONPATH": os.pathsep.join(sys.path)}
    with Kernel(folder, env) as k:
        for cell in cells:
            k.run(cell)
    return nbtrack.runs(where='name == "target"')["run_id"][0]


@pytest.fixture
def exported(tmp_path, store):
    run_id = record(tmp_path, store, CELLS,
                    {"lr.txt": "0.5", "data.txt": "1,2,3", "scale.txt": "1.0"})
    return run_id, nbtrack.export(run_id, tmp_path / "repro.ipynb")


def kinds(report) -> set[str]:
    return {d.kind for d in report.real}


@pytest.mark.backends  # export and reproduce over a bucket too (kernels: a few)
def test_the_unchanged_export_reproduces(exported):
    report = nbtrack.reproduce(exported[1], progress=False)
    assert report.ok and report.exact, repr(report)


@pytest.mark.backends  # export and reproduce over a bucket too (kernels: a few)
def test_changed_input_content_is_an_input_difference(exported, tmp_path, store):
    run_id, path = exported
    sha = nbtrack.get_run(run_id)["inputs"][0]["sha256"]
    (tmp_path / "data.txt").write_text("1,2,4")
    nbtrack.active.layout_for(store).object_path(sha).unlink()  # no copy to restore
    assert not objects.has_object(nbtrack.active.layout_for(store), sha)
    report = nbtrack.reproduce(path, progress=False)
    assert not report.ok
    assert "input" in kinds(report) and "metric" in kinds(report), repr(report)


def test_an_edited_run_cell_is_a_code_difference(exported):
    _, path = exported
    nb = nbformat.read(str(path), as_version=4)
    cell = next(c for c in nb.cells if "nbtrack.log(total=" in c.source)
    cell.source = cell.source.replace("* scale", "* scale * 2")
    nbformat.write(nb, str(path))
    report = nbtrack.reproduce(path, progress=False)
    assert not report.ok
    assert {"code", "export", "metric"} <= kinds(report), repr(report)


def test_a_changed_param_is_a_param_difference(exported, tmp_path):
    (tmp_path / "lr.txt").write_text("0.25")
    report = nbtrack.reproduce(exported[1], progress=False)
    assert not report.ok
    assert "param" in kinds(report), repr(report)
    assert next(d for d in report.real if d.kind == "param").reproduced == 0.25


def test_a_metric_beyond_tolerance_differs_and_one_within_does_not(exported, tmp_path):
    (tmp_path / "scale.txt").write_text("1.0000001")
    report = nbtrack.reproduce(exported[1], tolerance=1e-9, progress=False)
    assert not report.ok
    assert kinds(report) == {"metric"}, repr(report)
    assert nbtrack.reproduce(exported[1], tolerance=1e-3, progress=False).ok


def test_a_missing_metric_is_reported(exported, monkeypatch):
    monkeypatch.setenv("NBTRACK_TEST_MISSING", "1")
    report = nbtrack.reproduce(exported[1], progress=False)
    assert not report.ok
    assert kinds(report) == {"missing_metric"}, repr(report)
    assert report.real[0].what == "maybe"


def test_an_extra_metric_is_reported(exported, monkeypatch):
    monkeypatch.setenv("NBTRACK_TEST_EXTRA", "1")
    report = nbtrack.reproduce(exported[1], progress=False)
    assert not report.ok
    assert kinds(report) == {"extra_metric"}, repr(report)
    assert report.real[0].what == "extra"


UNCONTROLLED = [
    "%load_ext nbtrack",
    "import time\nimport numpy as np\nt0 = time.time()",
    START,
    "import nbtrack\nnbtrack.log(stamp=time.time() % 1000, elapsed_s=time.time() - t0)",
    "rng = np.random.default_rng()\nnbtrack.log(noise=float(rng.random()))",
    "nbtrack.log(score=float(open('score.txt').read()))",
    STOP,
]


def test_uncontrolled_differences_are_labelled_apart_and_real_ones_still_count(tmp_path, store):
    run_id = record(tmp_path, store, UNCONTROLLED, {"score.txt": "0.75"})
    path = nbtrack.export(run_id, tmp_path / "repro.ipynb")
    report = nbtrack.reproduce(path, progress=False)
    assert report.ok and not report.exact, repr(report)
    labelled = {d.what: d.uncontrolled for d in report.uncontrolled}
    assert set(labelled) == {"stamp", "elapsed_s", "noise"}, repr(report)
    assert "named like a time" in labelled["elapsed_s"]
    assert "wall clock" in labelled["stamp"]
    assert "OS entropy" in labelled["noise"]
    text = repr(report)
    assert "uncontrolled" in text and "noise" in text  # shown, not hidden

    (tmp_path / "score.txt").write_text("0.5")
    report = nbtrack.reproduce(path, progress=False)
    assert not report.ok
    assert [d.what for d in report.real] == ["score"], repr(report)
    assert len(report.uncontrolled) == 3


EXPLAINED = [
    "%load_ext nbtrack",
    "import numpy as np",
    "X = np.arange(4.0)",
    "exec('X[0] = 5.0')",
    "print(X.mean())",
    "broken + 1",
    "np.random.seed(3)\nnp.random.random()",
    START,
    "import nbtrack\nnbtrack.log(v=float(X.sum() + np.random.random()))",
    STOP,
]


@pytest.mark.backends  # export and reproduce over a bucket too (kernels: a few)
def test_explain_says_why_each_earlier_cell_was_kept(tmp_path, store, capsys):
    run_id = record(tmp_path, store, EXPLAINED, {})
    capsys.readouterr()
    path = nbtrack.export(run_id, tmp_path / "repro.ipynb", explain=True)
    printed = capsys.readouterr().out
    assert "In [2] kept: defines `np` used by In [3], In [9] (run)" in printed, printed
    assert "In [3] kept: defines `X` used by In [9] (run)" in printed, printed
    assert "In [4] kept: opaque (exec)" in printed, printed
    assert "In [5]: nothing the run reads" not in printed  # it binds nothing: no effect
    assert "In [6]: raised" in printed
    assert "In [7]: only advanced numpy's random generator" in printed
    assert "numpy put back as it was when In [9] ran" in printed
    assert "Names the run reads that no recorded cell defines" not in printed

    nb = nbformat.read(str(path), as_version=4)
    details = [c for c in nb.cells if c.cell_type == "markdown" and "<details>" in c.source]
    assert len(details) == 1 and "In [3] kept: defines `X`" in details[0].source
    assert "⚠️" not in nb.cells[0].source
    kept = nb.metadata["nbtrack"]["slice"]["kept"]
    assert {k["execution_count"] for k in kept} == {1, 2, 3, 4}
    assert nbtrack.reproduce(path, progress=False).exact
