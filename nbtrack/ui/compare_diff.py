"""What changed between two runs: the code they executed, cell by cell, and their
environments (packages and versions, Python, inputs and outputs by content hash, git).

The cells of the two runs are aligned by their sha256 (difflib over the hash lists), so an
unchanged cell pairs with its twin wherever it ran; the cells between two matches are paired
by similarity of their source, and each changed pair gets a line diff (with the changed
characters of a replaced line marked). Everything is plain data: the panel shows it as text.
"""

from __future__ import annotations

import difflib
import json

CONTEXT = 3  # unchanged lines kept around a change inside a long cell
PAIR_RATIO = 0.35  # two cells this similar (difflib ratio) are one changed cell, not remove + add
MAX_PAIRING = 400  # cells in one unmatched stretch beyond which they pair by position


def _source(cell: dict) -> str:
    return str(cell.get("source") or "")


def _brief(cell: dict) -> dict:
    return {"count": cell.get("execution_count", cell.get("count")), "sha256": cell.get("sha256")}


def char_spans(a: str, b: str) -> tuple[list, list]:
    """The character ranges ``[start, end)`` of ``a`` and of ``b`` that differ."""
    sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
    left, right = [], []
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op == "equal":
            continue
        if i2 > i1:
            left.append([i1, i2])
        if j2 > j1:
            right.append([j1, j2])
    return left, right


def line_diff(a: str, b: str, context: int = CONTEXT) -> list[dict]:
    """``a`` against ``b`` line by line: ``{op, text, a, b}`` with op ``=`` (same), ``-``
    (only in a), ``+`` (only in b), or ``…`` (``n`` unchanged lines left out); ``a``/``b`` are
    1-based line numbers; a replaced line has ``spans``, the changed character ranges."""
    la, lb = a.splitlines(), b.splitlines()
    out: list[dict] = []
    sm = difflib.SequenceMatcher(None, la, lb, autojunk=False)
    codes = sm.get_opcodes()
    for k, (op, i1, i2, j1, j2) in enumerate(codes):
        if op == "equal":
            keep = list(range(i2 - i1))
            first, last = k == 0, k == len(codes) - 1
            if len(keep) > 2 * context + 1 or (first and len(keep) > context) or (last and len(keep) > context):
                head = [] if first else keep[:context]
                tail = [] if last else keep[-context:]
                skipped = len(keep) - len(head) - len(tail)
                if skipped > 0:
                    for n in head:
                        out.append({"op": "=", "text": la[i1 + n], "a": i1 + n + 1, "b": j1 + n + 1})
                    out.append({"op": "…", "n": skipped})
                    for n in tail:
                        out.append({"op": "=", "text": la[i1 + n], "a": i1 + n + 1, "b": j1 + n + 1})
                    continue
            out += [{"op": "=", "text": la[i1 + n], "a": i1 + n + 1, "b": j1 + n + 1} for n in keep]
            continue
        removed = [{"op": "-", "text": la[i], "a": i + 1} for i in range(i1, i2)]
        added = [{"op": "+", "text": lb[j], "b": j + 1} for j in range(j1, j2)]
        if op == "replace":
            for old, new in zip(removed, added, strict=False):
                old["spans"], new["spans"] = char_spans(old["text"], new["text"])
        out += removed + added
    return out


def _pair(a: list[dict], b: list[dict]) -> list[tuple[int | None, int | None]]:
    """Pairs of indexes into ``a`` and ``b`` (None: no partner), in order, pairing cells whose
    sources are similar enough (the best total similarity, as an alignment)."""
    if not a or not b:
        return [(i, None) for i in range(len(a))] + [(None, j) for j in range(len(b))]
    if len(a) * len(b) > MAX_PAIRING:
        n = min(len(a), len(b))
        return ([(i, i) for i in range(n)] + [(i, None) for i in range(n, len(a))]
                + [(None, j) for j in range(n, len(b))])
    ratio = [[difflib.SequenceMatcher(None, _source(x), _source(y), autojunk=False).ratio()
              for y in b] for x in a]
    m, n = len(a), len(b)
    best = [[0.0] * (n + 1) for _ in range(m + 1)]
    for i in range(m - 1, -1, -1):
        for j in range(n - 1, -1, -1):
            take = ratio[i][j] + best[i + 1][j + 1] if ratio[i][j] >= PAIR_RATIO else -1.0
            best[i][j] = max(take, best[i + 1][j], best[i][j + 1])
    out, i, j = [], 0, 0
    while i < m and j < n:
        if ratio[i][j] >= PAIR_RATIO and best[i][j] == ratio[i][j] + best[i + 1][j + 1]:
            out.append((i, j))
            i, j = i + 1, j + 1
        elif best[i][j] == best[i + 1][j]:
            out.append((i, None))
            i += 1
        else:
            out.append((None, j))
            j += 1
    out += [(k, None) for k in range(i, m)] + [(None, k) for k in range(j, n)]
    return out


def cells_diff(cells_a: list[dict], cells_b: list[dict]) -> list[dict]:
    """The two runs' cells aligned: ``{kind, a, b, source | lines}`` with kind ``same``
    (identical source), ``changed`` (``lines`` from :func:`line_diff`), ``removed`` (only in
    the first run) or ``added`` (only in the second)."""
    hashes_a = [c.get("sha256") or _source(c) for c in cells_a]
    hashes_b = [c.get("sha256") or _source(c) for c in cells_b]
    out: list[dict] = []
    sm = difflib.SequenceMatcher(None, hashes_a, hashes_b, autojunk=False)
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op == "equal":
            for i, j in zip(range(i1, i2), range(j1, j2), strict=True):
                out.append({"kind": "same", "a": _brief(cells_a[i]), "b": _brief(cells_b[j]),
                            "source": _source(cells_a[i])})
            continue
        for i, j in _pair(cells_a[i1:i2], cells_b[j1:j2]):
            ca = cells_a[i1 + i] if i is not None else None
            cb = cells_b[j1 + j] if j is not None else None
            if ca is not None and cb is not None:
                out.append({"kind": "changed", "a": _brief(ca), "b": _brief(cb),
                            "lines": line_diff(_source(ca), _source(cb))})
            elif ca is not None:
                out.append({"kind": "removed", "a": _brief(ca), "b": None,
                            "lines": [{"op": "-", "text": t, "a": n + 1}
                                      for n, t in enumerate(_source(ca).splitlines())]})
            else:
                out.append({"kind": "added", "a": None, "b": _brief(cb),
                            "lines": [{"op": "+", "text": t, "b": n + 1}
                                      for n, t in enumerate(_source(cb).splitlines())]})
    return out


def mapping_diff(a: dict, b: dict) -> list[dict]:
    """Keys whose values differ between two flat dicts (packages, environment variables):
    ``{name, a, b, change}`` with change ``added`` / ``removed`` / ``changed``."""
    out = []
    for name in sorted(set(a) | set(b), key=str.lower):
        if name in a and name in b:
            if a[name] != b[name]:
                out.append({"name": name, "a": a[name], "b": b[name], "change": "changed"})
        elif name in a:
            out.append({"name": name, "a": a[name], "b": None, "change": "removed"})
        else:
            out.append({"name": name, "a": None, "b": b[name], "change": "added"})
    return out


def files_diff(a: list[dict], b: list[dict]) -> list[dict]:
    """Files two runs recorded (inputs, outputs or artifacts), matched by content hash, then
    by path: ``{path, a, b, change}`` where ``a``/``b`` are ``{path, sha256, size}`` and
    change is ``same``, ``moved`` (same content, another path), ``changed`` (same path, other
    content), ``removed`` or ``added``."""
    def brief(f):
        return {"path": f.get("path"), "sha256": f.get("sha256"), "size": f.get("size")}

    left = [brief(f) for f in a or [] if f.get("sha256")]
    right = [brief(f) for f in b or [] if f.get("sha256")]
    out, used = [], set()
    for f in left:  # same content first: a renamed file is the same input
        k = next((k for k, g in enumerate(right) if k not in used and g["sha256"] == f["sha256"]), None)
        if k is not None:
            used.add(k)
            same = right[k]["path"] == f["path"]
            out.append({"path": f["path"], "a": f, "b": right[k], "change": "same" if same else "moved"})
            f["_done"] = True
    for f in left:
        if f.pop("_done", False):
            continue
        k = next((k for k, g in enumerate(right) if k not in used and g["path"] == f["path"]), None)
        if k is not None:
            used.add(k)
            out.append({"path": f["path"], "a": f, "b": right[k], "change": "changed"})
        else:
            out.append({"path": f["path"], "a": f, "b": None, "change": "removed"})
    out += [{"path": g["path"], "a": None, "b": g, "change": "added"}
            for k, g in enumerate(right) if k not in used]
    return sorted(out, key=lambda d: (d["change"] == "same", str(d["path"])))


GIT_FIELDS = ("commit", "branch", "dirty", "remote")


def _python(env: dict) -> str | None:
    py = env.get("python")
    if isinstance(py, dict):
        return " ".join(str(py[k]) for k in ("implementation", "version") if py.get(k)) or None
    return py if isinstance(py, str) else None


def environment(log_a: dict, log_b: dict) -> dict:
    """Packages, Python, environment variables, hardware, git and recorded files of two runs,
    with only what differs listed (``same_env``: both recorded one identical snapshot)."""
    env_a, env_b = log_a.get("env") or {}, log_b.get("env") or {}
    git_a, git_b = log_a.get("git") or {}, log_b.get("git") or {}
    sum_a, sum_b = log_a.get("env_summary") or {}, log_b.get("env_summary") or {}
    same_env = bool(log_a.get("env_sha256")) and log_a.get("env_sha256") == log_b.get("env_sha256")
    machine = [{"name": k, "a": sum_a.get(k), "b": sum_b.get(k)} for k in
               ("host", "os", "cpu", "cores", "memory_bytes", "gpus", "container", "image")
               if sum_a.get(k) != sum_b.get(k)]
    return {
        "same_env": same_env,
        "recorded": {"a": bool(env_a), "b": bool(env_b)},
        "python": {"a": _python(env_a), "b": _python(env_b)},
        "packages": [] if same_env else mapping_diff(env_a.get("packages") or {}, env_b.get("packages") or {}),
        "package_count": {"a": len(env_a.get("packages") or {}), "b": len(env_b.get("packages") or {})},
        "env_vars": [] if same_env else mapping_diff(env_a.get("env_vars") or {}, env_b.get("env_vars") or {}),
        "machine": machine,
        "git": [{"name": k, "a": git_a.get(k), "b": git_b.get(k)} for k in GIT_FIELDS
                if git_a.get(k) != git_b.get(k)],
        "has_git": {"a": bool(git_a), "b": bool(git_b)},
        "commands": mapping_diff(_commands(log_a), _commands(log_b)),
        "inputs": files_diff(log_a.get("inputs"), log_b.get("inputs")),
        "outputs": files_diff(log_a.get("outputs"), log_b.get("outputs")),
        "artifacts": files_diff(log_a.get("artifacts"), log_b.get("artifacts")),
    }


def _commands(log: dict) -> dict:
    """Shell and %pip commands the run recorded, each as one key (its text)."""
    out = {}
    for c in log.get("commands") or []:
        text = str(c.get("command") or c.get("cmd") or "")
        if text:
            out[text] = c.get("exit_status", c.get("exit_code"))
    return out


def _code(log: dict) -> dict:
    code = log.get("code") or {}
    script = log.get("script") or {}
    return {"adhoc_identity": code.get("adhoc_identity"), "cells": len(log.get("cells") or []),
            "script": script.get("path"), "script_sha256": script.get("sha256")}


def _short(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:39] + "…"


def params_changed(log_a: dict, log_b: dict) -> list[dict]:
    """The params whose values differ: ``{name, a, b, change}`` (compared by JSON form)."""
    a, b = log_a.get("params") or {}, log_b.get("params") or {}
    from .compare_data import canonical

    out = mapping_diff({k: canonical(v) for k, v in a.items()}, {k: canonical(v) for k, v in b.items()})
    for d in out:  # the values themselves, not their comparable forms
        d["a"], d["b"] = a.get(d["name"]), b.get(d["name"])
    return out


def summary(code: list[dict], env: dict, ident_a: dict, ident_b: dict, params: list[dict] = ()) -> list[str]:
    """"What changed" in a few sentences, most telling first."""
    lines = []
    if params:
        shown = ", ".join(f"{p['name']} {_short(p['a']) if p['change'] != 'added' else '—'} → "
                          f"{_short(p['b']) if p['change'] != 'removed' else '—'}" for p in params[:4])
        more = len(params) - 4
        lines.append(f"params: {shown}{f' and {more} more' if more > 0 else ''}")
    counts = {k: sum(1 for c in code if c["kind"] == k) for k in ("changed", "added", "removed")}
    if any(counts.values()):
        lines.append("code: " + ", ".join(f"{n} cell{'s' * (n != 1)} {k}" for k, n in counts.items() if n))
    elif code and ident_a["adhoc_identity"] == ident_b["adhoc_identity"]:
        lines.append("code: the same cells, in the same order")
    if ident_a["script_sha256"] != ident_b["script_sha256"] and (ident_a["script"] or ident_b["script"]):
        lines.append(f"script: {ident_a['script'] or '—'} → {ident_b['script'] or '—'} (content differs)")
    for kind in ("inputs", "outputs", "artifacts"):
        moved = [f for f in env[kind] if f["change"] != "same"]
        if moved:
            words = ", ".join(f"{f['path']} {f['change']}" for f in moved[:4])
            lines.append(f"{kind}: {words}{' …' if len(moved) > 4 else ''}")
    for g in env["git"]:
        lines.append(f"git {g['name']}: {g['a']} → {g['b']}")
    if env["python"]["a"] != env["python"]["b"]:
        lines.append(f"python: {env['python']['a']} → {env['python']['b']}")
    if env["packages"]:
        shown = ", ".join(f"{p['name']} {p['a'] or '—'} → {p['b'] or '—'}" for p in env["packages"][:4])
        more = len(env["packages"]) - 4
        lines.append(f"packages: {shown}{f' and {more} more' if more > 0 else ''}")
    if env["commands"]:
        lines.append(f"commands: {len(env['commands'])} differ")
    if env["machine"]:
        lines.append("machine: " + ", ".join(m["name"] for m in env["machine"]) + " differ")
    return lines


def code_and_env(log_a: dict, log_b: dict) -> dict:
    """Everything the "code & environment" tab shows for runs a (the baseline) and b."""
    code = cells_diff(log_a.get("cells") or [], log_b.get("cells") or [])
    env = environment(log_a, log_b)
    ident_a, ident_b = _code(log_a), _code(log_b)
    params = params_changed(log_a, log_b)
    return {"a": log_a["run_id"], "b": log_b["run_id"], "cells": code, "env": env, "params": params,
            "identity": {"a": ident_a, "b": ident_b},
            "summary": summary(code, env, ident_a, ident_b, params)}
