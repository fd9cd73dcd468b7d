"""What the run page shows, read through ``query``: one run's log shaped for the browser
(cells, commands, files, environment, metric summaries), sparklines, file previews, and the
edits a person makes from the page (notes, tags), written through the public API."""

from __future__ import annotations

from ..query import content, downsample
from ..query import metrics as metrics_q
from ..query import runs as runs_q
from ..store.layout import Layout

SPARK_BUCKETS = 30  # 4 points per bucket at most: ~120 points per sparkline
PREVIEW_TEXT_BYTES = 64 * 1024
PREVIEW_IMAGE_BYTES = 8 * 1024 * 1024


def _ms(t):
    return t * 1000.0 if isinstance(t, (int, float)) else t


def payload(layout: Layout, ref) -> dict:
    """The run log for the run page: everything but the metric points, which come summarised."""
    import polars as pl

    log = runs_q.get_run(layout, ref, with_metrics=False)
    run_id = log["run_id"]
    points = metrics_q.read(layout, [run_id])
    summary = []
    if not points.is_empty():
        summary = (
            points.sort("step", maintain_order=True)
            .group_by("key", maintain_order=True)
            .agg(pl.col("value").last().alias("last"), pl.col("value").min().alias("min"),
                 pl.col("value").max().alias("max"), pl.len().alias("count"),
                 pl.col("step").last().alias("last_step"))
            .sort("key")
            .to_dicts()
        )
    cells = [
        {"count": c.get("execution_count"), "sha256": c.get("sha256"), "source": c.get("source"),
         "started": _ms(c.get("started")), "ended": _ms(c.get("ended")), "ok": c.get("ok"),
         "error": ": ".join(x for x in (c.get("error_type"), c.get("error_message")) if x) or None}
        for c in log.pop("cells", None) or []
    ]
    commands = [
        {"kind": c.get("kind"), "command": c.get("command"), "exit": c.get("exit_status")}
        for c in log.pop("commands", None) or []
    ]
    env = log.pop("env", None) or {}
    log.update(
        cells=cells, commands=commands, metric_summary=summary,
        env={k: env.get(k) for k in ("packages", "env_vars", "package_sources") if env.get(k)},
    )
    return log


def sparklines(layout: Layout, run_id: str):
    """``key, step, value`` with at most ~120 points per metric, spikes kept."""
    frame = metrics_q.read(layout, [runs_q.resolve(layout, run_id)]).select("key", "step", "value")
    return downsample.m4(frame, SPARK_BUCKETS, by=("key",))


def preview(layout: Layout, run_id: str, sha256: str) -> tuple[dict, bytes | None]:
    """The start of a file the run used or made: text (first 64 KB) or an image (≤ 8 MB)."""
    log = runs_q.get_run(layout, run_id, with_metrics=False)
    known = {f.get("sha256") for key in ("inputs", "outputs", "artifacts") for f in log.get(key) or []}
    if sha256 not in known:
        raise KeyError(f"run {log['name']} has no file with sha256 {sha256!r}")
    data, size = content.head(layout, sha256, PREVIEW_IMAGE_BYTES)
    kind, mime = content.kind_of(data)
    if kind == "image":
        if size > PREVIEW_IMAGE_BYTES:
            return {"kind": "binary", "size": size, "reason": "image too large to preview"}, None
        return {"kind": "image", "mime": mime, "size": size}, data
    if kind == "text":
        text = data[:PREVIEW_TEXT_BYTES].decode("utf-8", errors="replace")
        return {"kind": "text", "text": text, "size": size, "truncated": size > PREVIEW_TEXT_BYTES}, None
    return {"kind": "binary", "size": size, "reason": "binary content: no preview"}, None


def add_note(store, run_id: str, text: str) -> None:
    from ..edit import open_run

    if not isinstance(text, str) or not text.strip():
        raise ValueError("a note needs some text")
    open_run(run_id, store=store).note(text)


def edit_tags(store, run_id: str, add=(), remove=()) -> None:
    from ..edit import open_run

    run = open_run(run_id, store=store)
    if remove:
        run.remove_tags(*[str(t) for t in remove])
    if add:
        run.add_tags(*[str(t) for t in add])
