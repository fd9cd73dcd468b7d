"""Panels without a widget manager: a compact table as escaped HTML (GitHub, nbviewer, a
notebook saved without widget state) and as text (plain IPython, a terminal)."""

from __future__ import annotations

import html
import math

FALLBACK_ROWS = 20
FALLBACK_KEYS = 6


def _value(value, kind: str) -> str:
    if value is None:
        return ""
    if kind == "time":
        return value.strftime("%Y-%m-%d %H:%M") if hasattr(value, "strftime") else str(value)
    if kind == "duration":
        return f"{value:.1f}s"
    if kind == "cost":
        return f"${value:.2f}"
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def _columns(view) -> list[dict]:
    base = [c for c in view.columns if c["name"] in ("status", "experiment", "name", "started", "duration_s", "tags")]
    keys = [c for c in view.columns if c["name"].startswith(("params.", "metrics."))][:FALLBACK_KEYS]
    return base + keys


def _caption(view, limit: int) -> str:
    shown = min(view.runs.height, limit)
    return f"{shown} of {view.total} runs shown"


def table_html(view, limit: int = FALLBACK_ROWS) -> str:
    columns = _columns(view)
    esc = html.escape
    head = "".join(f"<th>{esc(c['label'])}</th>" for c in columns)
    body = []
    for row in view.runs.head(limit).iter_rows(named=True):
        cells = "".join(f"<td>{esc(_value(row.get(c['name']), c['kind']))}</td>" for c in columns)
        body.append(f"<tr>{cells}</tr>")
    return (
        f'<div class="nbtrack-fallback"><p><b>nbtrack</b> · {esc(_caption(view, limit))}'
        " (open in Jupyter with the kernel running for the interactive table)</p>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def table_text(view, limit: int = FALLBACK_ROWS) -> str:
    columns = _columns(view)
    rows = [[_value(r.get(c["name"]), c["kind"]) for c in columns] for r in view.runs.head(limit).iter_rows(named=True)]
    header = [c["label"] for c in columns]
    widths = [min(28, max([len(header[i])] + [len(r[i]) for r in rows])) for i in range(len(columns))]

    def line(cells):
        return "  ".join((c if len(c) <= w else c[: w - 1] + "…").ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([f"nbtrack: {_caption(view, limit)}", line(header), *[line(r) for r in rows]])
