"""The run table's view, computed in the kernel with polars: search, filter (the ``where=``
grammar), archived runs, sort on several keys, grouping by experiment, the columns to show
(what varies across the shown runs first), and windows of rows for the browser.

Pure data: no widget here, so every rule is testable on a real store without a browser.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..query import experiments as experiments_q
from ..query import runs as runs_q
from ..query.filters import compile_filter, resolve_field
from ..store.layout import Layout

# (column, label, kind); kinds tell the browser how to draw a value
BASE_COLUMNS = (
    ("status", "status", "status"),
    ("experiment", "experiment", "text"),
    ("name", "name", "name"),
    ("started", "started", "time"),
    ("duration_s", "duration", "duration"),
    ("cost", "cost", "cost"),
    ("user", "user", "text"),
    ("tags", "tags", "tags"),
)
OTHER_COLUMNS = {"ended": "time", "host": "text", "run_id": "text", "parent_run_id": "text",
                 "archived": "bool", "notes": "text", "inputs": "tags", "outputs": "tags",
                 "sweep_id": "text", "sweep": "text", "sweep_trial": "number", "alerts": "number"}
NOT_SHOWN = {"input_sha256", "output_sha256"}
PREFIXES = ("params.", "metrics.", "metadata.")
MAX_DEFAULT_KEYS = 24  # params + metrics shown before the column picker is needed
PRIVATE = ("_hidden", "_haystack")
GROUPABLE = ("experiment", "sweep_id", "status", "user", "host")  # sweep_id: a sweep's trials together
GROUP_LABELS = {"sweep_id": "sweep"}  # a group's header shows this column's value when present


@dataclass
class ViewState:
    """What a person set in the panel; mirrors the widget's traits."""

    search: str = ""
    where: str = ""
    sort: list = field(default_factory=list)  # [[column, "asc" | "desc"], ...]
    show_archived: bool = False
    group_by: str = ""  # "", or a column in GROUPABLE
    collapsed: list = field(default_factory=list)
    columns: list = field(default_factory=list)  # [] = the default choice
    experiment: list = field(default_factory=list)


def _kind(name: str, dtype) -> str:
    import polars as pl

    for column, _label, kind in BASE_COLUMNS:
        if column == name:
            return kind
    if name in OTHER_COLUMNS:
        return OTHER_COLUMNS[name]
    if dtype.is_numeric():
        return "number"
    if dtype == pl.Boolean:
        return "bool"
    if isinstance(dtype, pl.Datetime):
        return "time"
    if isinstance(dtype, pl.List):
        return "tags"
    return "text"


def load(layout: Layout, experiment: list | None = None, run_ids: list | None = None):
    """Every run in scope (archived ones included, marked ``_hidden``), with a lower-case
    text of name, experiment, tags and notes to search."""
    import polars as pl

    frame = runs_q.runs(layout, include_archived=True)
    if experiment:
        frame = frame.filter(pl.col("experiment").is_in(list(experiment)))
    if run_ids is not None:
        frame = frame.filter(pl.col("run_id").is_in(list(run_ids)))
    archived = list(experiments_q.archived(layout))
    hidden = pl.col("archived").fill_null(False)
    if archived:
        hidden = hidden | pl.col("experiment").is_in(archived)
    haystack = pl.concat_str(
        [pl.col("name"), pl.col("experiment"), pl.col("tags").list.join(" "),
         pl.col("notes") if "notes" in frame.columns else pl.lit("")],
        separator="\n", ignore_nulls=True,
    ).str.to_lowercase()
    frame = frame.with_columns(hidden.alias("_hidden"), haystack.alias("_haystack"))
    if "sweep_id" in frame.columns and frame["sweep_id"].drop_nulls().len():
        from ..tuning import records  # a sweep's trials are headed by the sweep's name

        names = {d["id"]: d.get("name") or d["id"] for d in records.all_definitions(layout)}
        frame = frame.with_columns(sweep=pl.col("sweep_id").replace_strict(names, default=pl.col("sweep_id")))
    return frame


@dataclass
class View:
    """One computed view: ``rows`` (group header rows included) and ``runs`` (runs only)."""

    rows: object
    runs: object
    total: int
    columns: list
    all_columns: list

    @property
    def count(self) -> int:
        return self.rows.height


def _sort_key(frame, column: str):
    import polars as pl

    if isinstance(frame.schema[column], pl.List):
        return pl.col(column).list.join(", ")
    return pl.col(column)


def _column_infos(frame, shown) -> tuple[list, list]:
    """(default columns, all columns) as dicts {name, label, kind, varying}."""
    import polars as pl

    def info(name: str, label: str | None = None) -> dict:
        dtype = frame.schema[name]
        varying = False
        if shown.height > 1:
            values = shown[name]
            if isinstance(dtype, pl.List):
                values = values.list.join("\x1f")
            varying = values.n_unique() > 1
        return {"name": name, "label": label or name, "kind": _kind(name, dtype), "varying": varying}

    base = [info(c, label) for c, label, _ in BASE_COLUMNS if c in frame.columns]
    # a base column no shown run has a value for (cost without a rate) waits in the picker
    empty = {c["name"] for c in base if c["name"] in ("cost", "user") and shown[c["name"]].null_count() == shown.height and shown.height}
    keyed = [info(c) for c in frame.columns if c.startswith(PREFIXES)]
    others = [info(c) for c in OTHER_COLUMNS if c in frame.columns]

    def rank(col: dict) -> tuple:
        prefix = col["name"].split(".", 1)[0]
        return (not col["varying"], ("params", "metrics", "metadata").index(prefix), col["name"])

    keyed.sort(key=rank)
    default = [c for c in base if c["name"] not in empty]
    default += [c for c in keyed if not c["name"].startswith("metadata.")][:MAX_DEFAULT_KEYS]
    return default, base + keyed + others


def compute(base, state: ViewState) -> View:
    """Apply ``state`` to ``base`` (from :func:`load`). A bad ``where`` raises FilterError."""
    import polars as pl

    frame = base
    if not state.show_archived:
        frame = frame.filter(~pl.col("_hidden"))
    if state.experiment:
        frame = frame.filter(pl.col("experiment").is_in(list(state.experiment)))
    total = frame.height
    query = state.search.strip().lower()
    if query:
        frame = frame.filter(pl.col("_haystack").str.contains(query, literal=True))
    if state.where.strip():
        schema = {k: v for k, v in frame.schema.items() if k not in PRIVATE}
        frame = frame.filter(compile_filter(state.where, schema))
    keys, descending = [], []
    group = state.group_by if state.group_by in GROUPABLE and state.group_by in frame.columns else ""
    if group:
        keys.append(pl.col(group))
        descending.append(False)
    for item in state.sort or [["started", "desc"]]:
        name, direction = (item[0], item[1]) if isinstance(item, (list, tuple)) else (item, "asc")
        name = resolve_field(str(name), {k: v for k, v in frame.schema.items() if k not in PRIVATE})
        keys.append(_sort_key(frame, name))
        descending.append(direction == "desc")
    frame = frame.sort(keys, descending=descending, nulls_last=True, maintain_order=True)
    default, every = _column_infos(base, frame)
    if state.columns:
        by_name = {c["name"]: c for c in every}
        columns = [by_name[n] for n in state.columns if n in by_name]
    else:
        columns = default
    runs = frame.drop(PRIVATE)
    label = GROUP_LABELS.get(group)
    rows = _grouped(runs, group, state.collapsed, label if label in runs.columns else None) if group else runs
    return View(rows=rows, runs=runs, total=total, columns=columns, all_columns=every)


def _grouped(runs, column: str, collapsed: list, label: str | None = None):
    """Runs with one header row before each group (runs sharing ``column``'s value; runs with
    none form the last group); a collapsed group keeps only its header. The header reads
    ``label``'s value where given (a sweep's name), its key stays ``column``'s (``_group_key``)."""
    import polars as pl

    key = pl.col(column).cast(pl.String).fill_null("")
    text = pl.col(label).cast(pl.String).fill_null("") if label else key
    keyed = runs.with_columns(key.alias("_key"), text.alias("_label"))
    groups = (keyed.group_by("_key", maintain_order=True)
              .agg(pl.len().alias("_group_count"), pl.col("_label").first())
              .with_row_index("_g"))
    folded = [c for c in collapsed if isinstance(c, str)]
    headers = groups.select(
        pl.lit("group").alias("_kind"), pl.col("_label").alias("_group"), pl.col("_key").alias("_group_key"),
        "_group_count",
        pl.col("_key").is_in(folded).alias("_collapsed"), "_g", pl.lit(-1, pl.Int64).alias("_pos"),
    )
    body = (
        keyed.with_row_index("_pos").with_columns(pl.col("_pos").cast(pl.Int64))
        .join(groups.select("_key", "_g"), on="_key", how="left")
        .filter(~pl.col("_key").is_in(folded))
        .with_columns(pl.lit("run").alias("_kind"))
    )
    return (pl.concat([headers, body.drop("_label")], how="diagonal_relaxed").sort("_g", "_pos")
            .drop("_g", "_pos", "_key"))


def window(view: View, offset: int, limit: int):
    """Rows ``[offset, offset + limit)`` with the shown columns (and what the browser needs)."""
    names = [c["name"] for c in view.columns]
    extra = ["run_id"] + [c for c in ("_kind", "_group", "_group_key", "_group_count", "_collapsed")
                          if c in view.rows.columns]
    keep = list(dict.fromkeys(extra + names))
    offset = max(0, int(offset))
    limit = max(0, min(int(limit), 1000))
    return view.rows.slice(offset, limit).select(keep)


def ids(view: View, offset: int, limit: int) -> list[str]:
    """The run ids among rows ``[offset, offset + limit)`` (group headers skipped)."""
    import polars as pl

    part = view.rows.slice(max(0, int(offset)), max(0, int(limit)))
    if "_kind" in part.columns:
        part = part.filter(pl.col("_kind") == "run")
    return part["run_id"].to_list()
