"""Execute notebooks/quickstart.ipynb end to end in a real kernel, then print the runs it made.

Runs against the default local store (the nearest ``.nbtrack/`` from the notebook's
folder, created there if there is none), exactly as a person opening it would.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent.parent
NOTEBOOK = HERE / "notebooks" / "quickstart.ipynb"


def main() -> int:
    nb = nbformat.read(str(NOTEBOOK), as_version=4)
    started = time.time()
    print(f"executing {NOTEBOOK.relative_to(HERE)} in a fresh kernel ...", flush=True)

    def done(cell, cell_index, execute_reply, **_):
        if cell.cell_type == "code":
            status = execute_reply["content"]["status"]
            print(f"  cell {cell_index:2d}: {status}", flush=True)

    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOK.parent)}},
                            on_cell_executed=done,
                            extra_arguments=["--IPKernelApp.log_level=ERROR"])
    client.execute()
    out = NOTEBOOK.with_name("quickstart.executed.ipynb")
    nbformat.write(nb, str(out))
    print(f"executed notebook written to {out.relative_to(HERE)}")

    import os

    os.chdir(NOTEBOOK.parent)
    import polars as pl

    import nbtrack

    made = nbtrack.runs(include_archived=True).filter(
        pl.col("started") >= pl.lit(started * 1e6).cast(pl.Int64).cast(pl.Datetime("us", "UTC"))
    )
    print(f"\nruns made in the store at {nbtrack.store_root()}:")
    with pl.Config(tbl_rows=50, tbl_cols=14, fmt_str_lengths=30, tbl_width_chars=160):
        print(made.select([c for c in made.columns if c in (
            "name", "experiment", "status", "duration_s", "tags") or c.startswith(("params.", "metrics."))]))
    return 0 if made.height else 1


if __name__ == "__main__":
    sys.exit(main())
