"""Shared by the stress drivers: a fresh store, subprocesses that import this checkout,
the checks every driver ends with, and one line of figures per driver.

Each driver is ``python stress/<name>.py [--quick]`` and prints ``FIGURES <name> {json}``
last; ``scripts/stress.sh`` runs them all at full strength and prints the figures.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]  # this checkout, and tests/faults.py


def fresh_store(prefix: str) -> Path:
    root = Path(tempfile.mkdtemp(prefix=f"nbtrack-stress-{prefix}-")) / "store"
    os.environ["NBTRACK_HOME"] = str(root)
    os.chdir(root.parent)  # files the writers make land beside the store, not here
    import nbtrack.active

    nbtrack.active._layouts.clear()
    return root


def child_env(**extra: str) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    env.update(extra)
    return env


def spawn(code: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], env=child_env(**env),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def read_all_quietly(per_run: bool = False) -> tuple[int, list[str]]:
    """Read the whole store the ways users do; (corrupt-file warnings, errors).
    ``per_run``: metrics one run at a time (a store of 10^8 points does not fit at once)."""
    import nbtrack
    from nbtrack.errors import CorruptFileWarning
    from nbtrack.store import arrow_io

    arrow_io._warned.clear()
    errors: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            frame = nbtrack.runs(include_archived=True)
            if per_run:
                for run_id in frame["run_id"].to_list():
                    nbtrack.metrics([run_id])
                    nbtrack.get_run(run_id, with_metrics=False)
            else:
                nbtrack.metrics(frame)
                for run_id in frame["run_id"].to_list()[:50]:
                    nbtrack.get_run(run_id)
        except BaseException as exc:  # noqa: BLE001 - counted, never fatal here
            if isinstance(exc, KeyboardInterrupt):
                raise
            errors.append(f"{type(exc).__name__}: {exc}")
    corrupt = sum(issubclass(w.category, CorruptFileWarning) for w in caught)
    return corrupt, errors


def gap_free(points, run_id: str) -> bool:
    """Every key's steps of ``run_id`` are 0..n-1, each once, in order."""
    mine = points.filter(points["run_id"] == run_id)
    for (_,), part in mine.group_by("key"):
        steps = part["step"].to_list()
        if steps != list(range(len(steps))):
            return False
    return True


def report(name: str, figures: dict, started: float) -> int:
    figures["seconds"] = round(time.time() - started, 1)
    failed = figures.pop("_failed", False)
    print(f"FIGURES {name} {json.dumps(figures, sort_keys=True)}", flush=True)
    return 1 if failed else 0


def point_count(run_ids) -> int:
    import nbtrack

    return sum(nbtrack.metrics([r]).height for r in run_ids)
