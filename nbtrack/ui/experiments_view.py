"""The experiments list, computed in the kernel: each experiment with its description, tags,
run count, status mix, created and last-activity times; searched, filtered and sorted."""

from __future__ import annotations

from ..query import experiments as experiments_q
from ..store.layout import Layout

SORTS = {"last_activity": ("last_activity", True), "created": ("created", True),
         "experiment": ("experiment", False), "runs": ("runs", True)}


def frame(layout: Layout, runs):
    """Every experiment (archived too) with ``created`` and ``last_activity`` in epoch ms,
    from ``runs`` (the run table's base frame: every run, archived included)."""
    import polars as pl

    exps = experiments_q.experiments(layout, include_archived=True)
    if runs.is_empty():
        times = pl.DataFrame(schema={"experiment": pl.String, "created": pl.Float64, "last_activity": pl.Float64})
    else:
        ms = pl.col("started").dt.epoch("us").cast(pl.Float64) / 1000.0
        end = pl.coalesce(pl.col("ended"), pl.col("started")).dt.epoch("us").cast(pl.Float64) / 1000.0
        times = runs.group_by("experiment").agg(ms.min().alias("created"), end.max().alias("last_activity"))
    return exps.drop("first_started", "last_started").join(times, on="experiment", how="left")


def select(table, search: str = "", tag: str = "", state: str = "active", sort: str = "last_activity"):
    """The rows to list and every tag in use (for the tag filter)."""
    import polars as pl

    tags = sorted({t for ts in table["tags"].to_list() for t in (ts or [])})
    if state == "active":
        table = table.filter(~pl.col("archived"))
    elif state == "archived":
        table = table.filter(pl.col("archived"))
    query = (search or "").strip().lower()
    if query:
        text = pl.concat_str([pl.col("experiment"), pl.col("description")], separator="\n", ignore_nulls=True)
        table = table.filter(text.str.to_lowercase().str.contains(query, literal=True))
    if tag:
        table = table.filter(pl.col("tags").list.contains(tag))
    column, descending = SORTS.get(sort, SORTS["last_activity"])
    table = table.sort(column, descending=descending, nulls_last=True)
    return table, tags
