"""Experiments: named groups of runs, with a description, tags and an archive flag.

An experiment exists as soon as a run names it. Its own records (description,
tags, archived) are events under ``experiments/``, folded like a run's.
"""

from __future__ import annotations

from ..store import records
from ..store.layout import Layout


def states(layout: Layout) -> dict[str, dict]:
    """Folded experiment records by name."""
    out: dict[str, dict] = {}
    for ev in records.read_records(layout.experiments_dir):
        name = ev.get("experiment")
        if not isinstance(name, str):
            continue
        st = out.setdefault(name, {"description": None, "tags": [], "archived": False})
        if "description" in ev:
            st["description"] = ev["description"]
        if "archived" in ev:
            st["archived"] = bool(ev["archived"])
        remove = set(ev.get("remove_tags") or ())
        st["tags"] = [t for t in st["tags"] if t not in remove]
        st["tags"] += [t for t in ev.get("add_tags") or () if t not in st["tags"]]
    return out


def archived(layout: Layout) -> set[str]:
    return {name for name, st in states(layout).items() if st["archived"]}


def experiments(layout: Layout, include_archived: bool = False):
    """One row per experiment: counts of runs by status, first and last start."""
    import polars as pl

    from .runs import current_rows

    info = states(layout)
    per: dict[str, list[dict]] = {}
    for row in current_rows(layout):
        per.setdefault(row.get("experiment") or "", []).append(row)
    names = sorted(set(per) | set(info))
    data: dict[str, list] = {k: [] for k in (
        "experiment", "description", "tags", "archived", "runs", "running", "completed",
        "failed", "killed", "crashed", "first_started", "last_started",
    )}
    for name in names:
        st = info.get(name, {"description": None, "tags": [], "archived": False})
        if st["archived"] and not include_archived:
            continue
        rows = per.get(name, [])
        starts = [r["started"] for r in rows if r.get("started") is not None]
        data["experiment"].append(name)
        data["description"].append(st["description"])
        data["tags"].append(st["tags"])
        data["archived"].append(st["archived"])
        data["runs"].append(len(rows))
        for status in ("running", "completed", "failed", "killed", "crashed"):
            data[status].append(sum(1 for r in rows if r.get("status") == status))
        data["first_started"].append(int(min(starts) * 1e6) if starts else None)
        data["last_started"].append(int(max(starts) * 1e6) if starts else None)
    frame = pl.DataFrame(
        data,
        schema={
            "experiment": pl.String, "description": pl.String, "tags": pl.List(pl.String),
            "archived": pl.Boolean, "runs": pl.Int64, "running": pl.Int64,
            "completed": pl.Int64, "failed": pl.Int64, "killed": pl.Int64, "crashed": pl.Int64,
            "first_started": pl.Int64, "last_started": pl.Int64,
        },
    )
    dt = pl.Datetime("us", "UTC")
    return frame.with_columns(pl.col("first_started", "last_started").cast(dt))


def describe(layout: Layout, name: str) -> dict:
    """An experiment's description, tags, run counts, and the params and metrics its runs use."""
    from ..errors import NbtrackError
    from .runs import current_rows

    st = states(layout).get(name, {"description": None, "tags": [], "archived": False})
    rows = [r for r in current_rows(layout) if r.get("experiment") == name]
    if not rows and name not in states(layout):
        raise NbtrackError(f"no experiment {name!r} in the store at {layout.root}")
    statuses: dict[str, int] = {}
    for r in rows:
        statuses[r.get("status")] = statuses.get(r.get("status"), 0) + 1
    return {
        "experiment": name,
        "description": st["description"],
        "tags": st["tags"],
        "archived": st["archived"],
        "runs": len(rows),
        "statuses": statuses,
        "params": sorted({k for r in rows for k in (r.get("params") or {})}),
        "metrics": sorted({k for r in rows for k in (r.get("metrics") or {})}),
        "run_ids": [r["run_id"] for r in sorted(rows, key=lambda r: r.get("started") or 0)],
    }
