"""Execute a notebook (default: notebooks/quickstart.ipynb) end to end in a real kernel,
then say which runs it made, which of them is a reproduction of which, and where the
store they are in lives.

Runs against the default local store (``$NBTRACK_HOME``, else the nearest ``.nbtrack/``
from the notebook's folder, made there if there is none), exactly as a person opening
the notebook would. ``python scripts/run_quickstart.py [NOTEBOOK]``; exit status 1 when
a cell fails or no run was made.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

HERE = Path(__file__).resolve().parent.parent
NOTEBOOK = HERE / "notebooks" / "quickstart.ipynb"


def _shown(path: Path) -> str:
    """A path as short as it can be said from the folder the command ran in."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def execute(notebook: Path) -> bool:
    nb = nbformat.read(str(notebook), as_version=4)
    print(f"executing {_shown(notebook)} in a fresh kernel ...", flush=True)

    def done(cell, cell_index, execute_reply, **_):
        if cell.cell_type == "code":
            print(f"  cell {cell_index:2d}: {execute_reply['content']['status']}", flush=True)

    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(notebook.parent)}},
                            on_cell_executed=done,
                            extra_arguments=["--IPKernelApp.log_level=ERROR"])
    ok = True
    try:
        client.execute()
    except CellExecutionError as exc:
        print(f"\na cell failed:\n{exc}", file=sys.stderr)
        ok = False
    out = notebook.with_name(notebook.stem + ".executed.ipynb")
    nbformat.write(nb, str(out))
    print(f"executed notebook written to {_shown(out)}")
    return ok


def find_store(folder: Path) -> tuple[Path, str]:
    """The store a kernel started in ``folder`` uses, and how it is found (or made)."""
    from nbtrack.store.layout import discover

    root, origin = discover(folder)
    if not root.is_dir():
        return root, f"made by the first run: {origin.replace('the default: ', '')}"
    return root, f"found by {origin.replace('the working directory', str(folder))}"


def report(started: float, root: Path, origin: str) -> int:
    """Print the runs made since ``started`` in the store at ``root``."""
    import nbtrack

    if not root.is_dir():
        print(f"\nno store at {root}: the notebook made no run", file=sys.stderr)
        return 1
    made = [r for r in nbtrack.runs(include_archived=True, store=root).iter_rows(named=True)
            if r["started"].timestamp() >= started]
    logs = {r["run_id"]: nbtrack.get_run(r["run_id"], with_metrics=False, store=root)
            for r in made}
    print(f"\n{len(made)} run(s) made, in the store at {root}\n  ({origin}):")
    names = {r["run_id"]: r["name"] for r in made}
    for r in reversed(made):  # oldest first: originals before their reproductions
        of = logs[r["run_id"]].get("reproduces")
        role = (f"reproduction of {names.get(of, of)}" if of else "original")
        metrics = ", ".join(f"{k[8:]}={v:.4g}" for k, v in r.items()
                            if k.startswith("metrics.") and isinstance(v, (int, float)))
        params = ", ".join(f"{k[7:]}={v}" for k, v in r.items()
                           if k.startswith("params.") and v is not None)
        print(f"  {r['name']:<24} {role:<36} {r['status']:<10} {r['experiment']}")
        if params or metrics:
            print(f"  {'':<24} params: {params or '-'}  metrics: {metrics or '-'}")
    cli = Path(sys.executable).with_name("nbtrack")  # the venv's CLI: on PATH once activated
    cli_shown = _shown(cli) if cli.exists() else "nbtrack"
    if made:
        print(f"\nlook again from a shell:\n  {cli_shown} runs --store {_shown(root)}\n"
              f"  {cli_shown} show {made[-1]['name']} --store {_shown(root)}")
    return 0 if made else 1


def main(argv: list[str]) -> int:
    notebook = Path(argv[0]).absolute() if argv else NOTEBOOK
    root, origin = find_store(notebook.parent)
    started = time.time()
    ok = execute(notebook)
    status = report(started, root, origin)
    return status if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
