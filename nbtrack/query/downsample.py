"""Metric series thinned for drawing, keeping their shape: M4 aggregation (Jugel et al.,
VLDB 2014), as mosaic does for line charts.

Each series' x range is cut into ``buckets`` equal pixel columns; each column keeps its first
and last point and the points with its lowest and highest value. A line drawn through those
points is pixel-identical to one drawn through every point, so a one-step spike survives a
100,000-to-1,000 reduction. Series with no more points than ``4 * buckets`` are returned whole.
"""

from __future__ import annotations


def m4(frame, buckets: int, x: str = "step", y: str = "value", by: tuple[str, ...] = ("run_id", "key"),
       x_range: tuple[float, float] | None = None):
    """At most ``4 * buckets`` points per series of ``frame`` (columns ``by``, ``x``, ``y``),
    sorted by ``by`` then ``x``. ``x_range`` (lo, hi) keeps only that range first (a zoom)."""
    import polars as pl

    by = [c for c in by if c in frame.columns]
    if x_range is not None:
        lo, hi = x_range
        frame = frame.filter(pl.col(x).is_between(lo, hi))
    if frame.is_empty():
        return frame
    buckets = max(1, int(buckets))
    xs = pl.col(x).cast(pl.Float64)
    over = by or None
    lo = xs.min().over(over) if over else xs.min()
    hi = xs.max().over(over) if over else xs.max()
    n = pl.len().over(over) if over else pl.len()
    width = pl.when(hi > lo).then(hi - lo).otherwise(1.0)
    bucket = ((xs - lo) / width * buckets).floor().clip(0, buckets - 1).cast(pl.Int64)
    framed = (
        frame.sort([*by, x]).with_columns(bucket.alias("_bucket"), n.alias("_n")).with_row_index("_i")
    )
    small = framed.filter(pl.col("_n") <= 4 * buckets)
    big = framed.filter(pl.col("_n") > 4 * buckets)
    parts = [small]
    if not big.is_empty():
        # rows are in x order within a series, so first/last need no sort; min/max by arg
        picks = big.group_by([*by, "_bucket"]).agg(
            pl.col("_i").first().alias("first"),
            pl.col("_i").last().alias("last"),
            pl.col("_i").get(pl.col(y).arg_min()).alias("low"),
            pl.col("_i").get(pl.col(y).arg_max()).alias("high"),
        )
        chosen = pl.concat([picks.select(pl.col(c).alias("_i")) for c in ("first", "last", "low", "high")])
        parts.append(big.join(chosen.unique(), on="_i", how="semi"))
    out = pl.concat(parts).sort("_i").drop("_bucket", "_n", "_i")
    return out
