"""Arrow arrays built from buffers match pyarrow's own conversion, and nbtrack never
imports pandas: a stand-in ``pandas`` package first on the path records any import."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap

import pyarrow as pa
import pytest
from conftest import child_environ

from nbtrack.store import arrow_arrays as arrays


@pytest.mark.parametrize(
    ("built", "values", "kind"),
    [
        (arrays.strings, ["loss", None, "", "é ü 漢"], pa.string()),
        (lambda v: arrays.strings(v, large=True), ["a", None], pa.large_string()),
        (arrays.float64s, [1.5, None, -0.0, 3], pa.float64()),
        (arrays.int64s, [0, None, -(2**63), 2**63 - 1], pa.int64()),
        (arrays.bools, [True, None, False] * 5, pa.bool_()),
        (arrays.lists, [["a", "b"], None, [], ["c"]], pa.list_(pa.string())),
        (lambda v: arrays.lists(v, "float64"), [[1.0], [], None], pa.list_(pa.float64())),
        (arrays.strings, [], pa.string()),
        (arrays.lists, [], pa.list_(pa.string())),
    ],
)
def test_built_arrays_equal_pyarrows_conversion(built, values, kind):
    made = built(values)
    made.validate(full=True)
    assert made.type == kind
    assert made.equals(pa.array(values, kind))


def test_constants():
    ids = arrays.constant_large_string("01hz", 3)
    assert ids.type == pa.large_string() and ids.to_pylist() == ["01hz"] * 3
    assert arrays.constant_large_string("x", 0).to_pylist() == []
    assert arrays.float64_scalar(1000.0).as_py() == 1000.0
    assert math.isnan(arrays.float64s([math.nan])[0].as_py())


STAND_IN = '''
import os, traceback
with open(os.environ["PANDAS_MARKER"], "a") as f:
    f.write("".join(traceback.format_stack()) + "\\n----\\n")
raise ImportError("a stand-in: nbtrack must not import pandas")
'''

EVERYTHING = """
    import sys, time
    import nbtrack
    from nbtrack.store import cell_files, index
    from nbtrack.active import layout_for

    index.COMPACT_THRESHOLD = 3  # the index merges its rows after a few runs
    for i in range(4):
        with nbtrack.start_run("exp", params={"i": i}, tags=["a"]) as run:
            for step in range(3000):
                run.log({"loss": step * 0.5, "acc": 1.0}, step=step)
                if step % 1000 == 0:
                    run.flush()  # several segments, merged at the end
    running = nbtrack.start_run("exp")
    running.log({"loss": 1.0})
    running.flush()
    frame = nbtrack.runs()  # a running run is refreshed from its own files
    assert frame.height == 5, frame
    assert nbtrack.metrics().height == 4 * 6000 + 1
    assert nbtrack.metrics(keys=["acc"]).height == 4 * 3000
    nbtrack.get_run(run.id)
    layout = layout_for()
    cell_files.write_cells(layout, run.id, [{"session_id": run.id, "execution_count": 1,
                           "source": "x = 1", "sha256": "0", "started": time.time(),
                           "ended": time.time(), "ok": True, "bound": ["x"], "run_ids": [],
                           "before_load": False}])
    assert cell_files.read_cells(layout, run.id)[0]["source"] == "x = 1"
    from nbtrack.ui import curves  # what a chart sends the browser, zoomed and on wall time
    for x in ("step", "time", "relative"):
        meta, data = curves.payload(layout, [run.id], ["loss"], x=x, buckets=50)
        assert meta["series"] and data
    table = nbtrack.show()  # the run table's rows for the browser
    from nbtrack.ui.wire import frame_bytes
    assert frame_bytes(table.runs)
    running.end()
    print("pandas" in sys.modules)
"""


def test_pandas_is_never_imported(tmp_path):
    stand_in = tmp_path / "stand_in" / "pandas"
    stand_in.mkdir(parents=True)
    (stand_in / "__init__.py").write_text(STAND_IN)
    marker = tmp_path / "pandas-imported.txt"
    env = child_environ(PANDAS_MARKER=str(marker))
    env["PYTHONPATH"] = f"{stand_in.parent}:{env['PYTHONPATH']}"
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(EVERYTHING)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert not marker.exists(), "pandas was imported from:\n" + marker.read_text()[-4000:]
    assert done.stdout.strip() == "False"
