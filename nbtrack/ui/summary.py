"""A run's log as a short readable summary (text and HTML) for ``%track show``.

Every string a user typed (names, tags, params, notes) is HTML-escaped before
it reaches the HTML view; notes are shown as escaped preformatted text, so a
note can never inject markup.
"""

from __future__ import annotations

import html
import json


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str)
    return str(value)


def status_line(log: dict) -> str:
    dur = log.get("duration_s")
    parts = [
        f"{log.get('name')} ({log.get('run_id')})",
        f"experiment {log.get('experiment')!r}",
        str(log.get("status")),
        f"{dur:.1f}s" if isinstance(dur, (int, float)) else "",
        f"{len(log.get('cells') or [])} cells",
    ]
    if log.get("tags"):
        parts.append("tags: " + ", ".join(log["tags"]))
    return " · ".join(p for p in parts if p)


def _dotted(nested: dict, prefix: str = "") -> list[tuple[str, object]]:
    """``{"hardware": {"gpu": "A100"}}`` -> ``[("hardware.gpu", "A100")]``."""
    rows: list[tuple[str, object]] = []
    for key, value in nested.items():
        if isinstance(value, dict) and value:
            rows += _dotted(value, f"{prefix}{key}.")
        else:
            rows.append((f"{prefix}{key}", value))
    return rows


def _size(n: object) -> str:
    if not isinstance(n, (int, float)):
        return ""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return ""


def _sections(log: dict) -> list[tuple[str, list[tuple[str, str]]]]:
    metrics = log.get("metrics") or {}
    last = {k: (v.get("values") or [None])[-1] for k, v in metrics.items()}
    env = log.get("env_summary") or {}
    git = log.get("git") or {}
    code = log.get("code") or {}
    script = log.get("script") or {}
    return [
        ("run", [
            ("name", log.get("name")), ("id", log.get("run_id")),
            ("experiment", log.get("experiment")), ("status", log.get("status")),
            ("message", log.get("message")), ("started", log.get("started")),
            ("ended", log.get("ended")), ("duration_s", log.get("duration_s")),
            ("cost", log.get("cost")), ("user", log.get("user")), ("host", log.get("host")),
            ("tags", ", ".join(log.get("tags") or [])),
        ]),
        ("params", sorted((log.get("params") or {}).items())),
        ("metrics (last)", sorted(last.items())),
        ("metadata", sorted(_dotted(log.get("metadata") or {}))),
        ("code", [
            ("adhoc identity", code.get("adhoc_identity")), ("cells", code.get("cells")),
            ("notebook", code.get("notebook")),
            ("script", script.get("path")), ("script sha256", (script.get("sha256") or "")[:12]),
            ("argv", " ".join(log.get("argv") or [])), ("cwd", log.get("cwd")),
            ("git commit", git.get("commit")), ("git dirty", git.get("dirty")),
        ]),
        ("environment", sorted(env.items())),
        ("inputs", [(i.get("path"), (i.get("sha256") or "")[:12]) for i in log.get("inputs") or []]),
        ("outputs", [(o.get("path"), (o.get("sha256") or "")[:12]) for o in log.get("outputs") or []]),
        ("artifacts", [(a.get("path"), f"{(a.get('sha256') or '')[:12]}  {_size(a.get('size'))}".strip())
                       for a in log.get("artifacts") or []]),
    ]


class RunSummary:
    """Displays a run log in a notebook (HTML) or a terminal (text)."""

    def __init__(self, log: dict):
        self.log = log

    def __repr__(self) -> str:
        lines = []
        for title, rows in _sections(self.log):
            rows = [(k, v) for k, v in rows if v not in (None, "", [])]
            if rows:
                lines.append(f"{title}:")
                lines += [f"  {k}: {_fmt(v)}" for k, v in rows]
        for note in self.log.get("notes") or []:
            lines.append(f"note {note.get('time')}: {note.get('text')}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        esc = html.escape
        parts = ['<div class="nbtrack-summary">']
        for title, rows in _sections(self.log):
            rows = [(k, v) for k, v in rows if v not in (None, "", [])]
            if not rows:
                continue
            parts.append(f"<h4>{esc(title)}</h4><table>")
            parts += [f"<tr><th>{esc(str(k))}</th><td>{esc(_fmt(v))}</td></tr>" for k, v in rows]
            parts.append("</table>")
        for note in self.log.get("notes") or []:
            parts.append(
                f"<p><small>{esc(str(note.get('time')))}</small></p>"
                f"<pre>{esc(str(note.get('text')))}</pre>"
            )
        parts.append("</div>")
        return "".join(parts)
