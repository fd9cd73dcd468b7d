"""A run's state, folded from its event records (and last metric values).

Events are written by whoever touched the run (the kernel, a subprocess, a later
edit) and never rewritten; the state is their fold in time order. The same fold
feeds ``get_run`` (the whole log) and the index row that ``runs()`` lists.
"""

from __future__ import annotations

import copy
from datetime import datetime, timezone

from . import liveness, records
from .layout import Layout

STATUSES = ("running", "completed", "failed", "killed", "crashed")
ENDED = frozenset(STATUSES) - {"running"}
FILE_EVENTS = {"input": "inputs", "output": "outputs", "artifact": "artifacts"}


def iso(t: float | None) -> str | None:
    if t is None:
        return None
    return datetime.fromtimestamp(t, tz=timezone.utc).isoformat()


def deep_merge(into: dict, new: dict) -> dict:
    """Merge nested dicts: keys of ``new`` win, sub-dicts merge recursively."""
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            deep_merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)
    return into


def fold(events: list[dict]) -> dict:
    """The run log (without metric series) from its events, in order."""
    state: dict = {
        "run_id": None,
        "name": None,
        "experiment": None,
        "status": None,
        "status_history": [],
        "message": None,
        "started": None,
        "ended": None,
        "user": None,
        "host": None,
        "pid": None,
        "pid_start": None,
        "parent_run_id": None,
        "tags": [],
        "params": {},
        "param_history": [],
        "metadata": {},
        "notes": [],
        "inputs": [],
        "outputs": [],
        "artifacts": [],
        "archived": False,
        "cost_per_hour": None,
    }
    files_seen: dict[str, dict[tuple, dict]] = {}
    for ev in events:
        kind = ev.get("type")
        t = ev.get("t")
        if kind == "start":
            for key in (
                "run_id", "name", "experiment", "user", "host", "pid", "pid_start",
                "parent_run_id", "cost_per_hour",
            ):
                if key in ev:
                    state[key] = ev[key]
            state["started"] = ev.get("started", t)
            state["status"] = "running"
            state["status_history"].append({"status": "running", "t": state["started"]})
            for key, value in ev.items():  # environment, code identity ...: kept as given
                if key not in state and key not in ("type", "t"):
                    state[key] = value
        elif kind == "params":
            state["params"].update(ev.get("params") or {})
            state["param_history"].append({"t": t, "params": ev.get("params") or {}})
        elif kind == "metadata":
            deep_merge(state["metadata"], ev.get("metadata") or {})
        elif kind == "tags":
            tags = [x for x in state["tags"] if x not in set(ev.get("remove") or ())]
            tags += [x for x in ev.get("add") or () if x not in tags]
            state["tags"] = tags
        elif kind == "note":
            state["notes"].append({"t": t, "text": ev.get("text", "")})
        elif kind == "status":
            status = ev.get("status")
            state["status"] = status
            state["status_history"].append(
                {"status": status, "t": t, "message": ev.get("message")}
            )
            if status in ENDED:
                state["ended"] = t
                state["message"] = ev.get("message")
        elif kind == "code":
            state["code"] = {k: v for k, v in ev.items() if k not in ("type", "t")}
        elif kind == "archive":
            state["archived"] = bool(ev.get("archived"))
        elif kind in FILE_EVENTS:
            # one entry per (path, content): a file seen by tracing and also named with
            # use_input (either order) is one input, with the fields of both
            item = {k: v for k, v in ev.items() if k != "type"}
            seen = files_seen.setdefault(kind, {})
            key = (item.get("path"), item.get("sha256"))
            if key in seen:
                seen[key].update({k: v for k, v in item.items() if v is not None and k != "t"})
            else:
                seen[key] = item
                state[FILE_EVENTS[kind]].append(item)
        elif isinstance(kind, str) and kind.isidentifier():
            # cells, commands, ... added by capture: listed under the plural name
            state.setdefault(kind + "s", []).append({k: v for k, v in ev.items() if k != "type"})
    return state


def load(layout: Layout, run_id: str) -> dict | None:
    events = records.read_records(layout.events_dir(run_id))
    if not events:
        return None
    state = fold(events)
    state["run_id"] = state["run_id"] or run_id
    return state


def resolve_liveness(layout: Layout, state: dict) -> dict:
    """A run whose owner died without ending it reads as ``crashed``."""
    if state.get("status") == "running" and not liveness.owner_alive(
        layout, state["run_id"], state
    ):
        state["status"] = "crashed"
        state["message"] = state.get("message") or "the process running it died without ending it"
        state["status_history"] = [*state["status_history"], {"status": "crashed", "t": None}]
    return state


def duration_s(state: dict, now: float | None = None) -> float | None:
    started = state.get("started")
    if started is None:
        return None
    end = state.get("ended")
    if end is None:
        if state.get("status") != "running":
            return None
        import time

        end = now or time.time()
    return max(0.0, end - started)


def cost(state: dict) -> float | None:
    rate = state.get("cost_per_hour")
    dur = duration_s(state)
    if rate is None or dur is None:
        return None
    return rate * dur / 3600.0


def summary_row(state: dict, last_metrics: dict) -> dict:
    """The index row of a run: what ``runs()`` lists."""
    return {
        "run_id": state["run_id"],
        "name": state.get("name"),
        "experiment": state.get("experiment"),
        "status": state.get("status"),
        "started": state.get("started"),
        "ended": state.get("ended"),
        "user": state.get("user"),
        "host": state.get("host"),
        "pid": state.get("pid"),
        "pid_start": state.get("pid_start"),
        "archived": bool(state.get("archived")),
        "cost_per_hour": state.get("cost_per_hour"),
        "tags": list(state.get("tags") or []),
        "params": state.get("params") or {},
        "metrics": last_metrics,
        "metadata": state.get("metadata") or {},
        "inputs": [_file_ref(x) for x in state.get("inputs") or []],
        "outputs": [_file_ref(x) for x in state.get("outputs") or []],
        "extra": {
            k: state[k]
            for k in ("parent_run_id", "message", "git", "env_summary", "reproduces", "sweep")
            if state.get(k) is not None
        }
        | ({"alerts": len(state["alerts"])} if state.get("alerts") else {})
        | ({"code_identity": state["code"].get("adhoc_identity")} if state.get("code") else {})
        | _notes_text(state),
    }


NOTES_TEXT_LIMIT = 4000


def _notes_text(state: dict) -> dict:
    """The run's notes as one text (the newest kept when long), so a search finds them."""
    texts = [str(n.get("text") or "") for n in state.get("notes") or []]
    joined = "\n".join(t for t in texts if t)
    return {"notes": joined[-NOTES_TEXT_LIMIT:]} if joined else {}


def _file_ref(item: dict) -> dict:
    return {k: item.get(k) for k in ("path", "sha256", "size", "name") if item.get(k) is not None}
