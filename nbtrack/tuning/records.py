"""A sweep on disk, built on the store's primitives (atomic JSON, record segments,
create-once claims). Nothing here holds a lock: every write is a new file, and the
one decision two processes could race on (who takes trial *n*) is an ``O_EXCL``
create::

    <root>/sweeps/<sweep_id>/sweep.json          the definition, written once
    <root>/sweeps/<sweep_id>/events/<seg>.json   trial / result / retry / stop / resume
    <root>/sweeps/<sweep_id>/claims/<n>.<a>      trial n, attempt a (content: the taker)
    <root>/sweeps/by-name/<key>                  name + definition -> sweep id, created once

Events (JSON records, ``t`` in seconds)::

    {"type": "trial", "number", "attempt", "run_id", "run_name", "params"}
    {"type": "result", "number", "attempt", "state": completed|failed|pruned|abandoned,
     "value", "metrics", "intermediate": {step: value}, "reason"}
    {"type": "retry", "number", "attempt"}      the attempt's slot is free again
    {"type": "stop"} / {"type": "resume"}
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from ..errors import SweepError
from ..store import files, liveness, records
from ..store.atomic import claim_file, dumps, read_claim, write_json_atomic
from ..store.layout import RUN_ID_RE, Layout, subfolders, visible_files

SWEEPS = "sweeps"
DEFINITION = "sweep.json"
BY_NAME = "by-name"
FORMAT = 1


def sweeps_dir(layout: Layout) -> Path:
    return layout.root / SWEEPS


def sweep_dir(layout: Layout, sweep_id: str) -> Path:
    if not isinstance(sweep_id, str) or not RUN_ID_RE.match(sweep_id):
        raise SweepError(f"{sweep_id!r} is not a sweep id (26 characters of lower-case base32)")
    return sweeps_dir(layout) / sweep_id


def definition_key(definition: dict) -> str:
    """What makes two ``nbtrack.sweep(...)`` calls the same sweep: name and definition."""
    fields = {k: definition.get(k) for k in (
        "name", "experiment", "strategy", "parameters", "objective", "direction",
        "max_trials", "seed_given", "pruner")}
    return hashlib.sha256(dumps(fields).encode()).hexdigest()[:40]


def create(layout: Layout, definition: dict) -> str:
    """Store ``definition`` as a new sweep unless the same one exists; its id either way.

    Two processes creating the same sweep at once end up with one: each writes its
    own folder, then claims the name; the loser removes its folder and takes the
    winner's id.
    """
    folder = sweep_dir(layout, definition["id"])
    write_json_atomic(folder / DEFINITION, definition, durable=True)
    by_name = sweeps_dir(layout) / BY_NAME / definition_key(definition)
    if claim_file(by_name, definition["id"]):
        return definition["id"]
    winner = _read_claim(by_name)
    files.remove(folder / DEFINITION)  # and the folder, left empty
    return winner


def _read_claim(path: Path) -> str:
    for _ in range(200):  # the winner writes its few bytes right after the create
        text = read_claim(path) or ""
        if RUN_ID_RE.match(text):
            return text
        time.sleep(0.005)
    raise SweepError(f"{path} does not name a sweep")


def has_definition(layout: Layout, sweep_id: str) -> bool:
    return files.is_file(sweep_dir(layout, sweep_id) / DEFINITION)


def definition_claim(layout: Layout, definition: dict) -> str | None:
    """The id of the sweep made from ``definition`` (same name and definition), if any."""
    key = sweeps_dir(layout) / BY_NAME / definition_key(definition)
    return _read_claim(key) if files.is_file(key) else None


def read_definition(layout: Layout, sweep_id: str) -> dict:
    path = sweep_dir(layout, sweep_id) / DEFINITION
    try:
        value = files.read_json(path)
    except FileNotFoundError:
        raise SweepError(f"no sweep {sweep_id!r} in the store at {layout.root}") from None
    except ValueError as exc:
        raise SweepError(f"the definition of sweep {sweep_id} is unreadable: {exc}") from None
    if not isinstance(value, dict):
        raise SweepError(f"the definition of sweep {sweep_id} is not a JSON object")
    return value


def all_definitions(layout: Layout) -> list[dict]:
    """Every sweep's definition, oldest first."""
    out = []
    for name in subfolders(sweeps_dir(layout)):
        if RUN_ID_RE.match(name):
            try:
                out.append(read_definition(layout, name))
            except SweepError:
                continue  # a folder a losing creator is removing
    return out


def write_event(layout: Layout, sweep_id: str, kind: str, **fields) -> None:
    fields.update(type=kind, t=time.time())
    records.write_records(sweep_dir(layout, sweep_id) / "events", [fields])


def read_events(layout: Layout, sweep_id: str) -> list[dict]:
    return records.read_records(sweep_dir(layout, sweep_id) / "events")


def claims_dir(layout: Layout, sweep_id: str) -> Path:
    return sweep_dir(layout, sweep_id) / "claims"


def claim(layout: Layout, sweep_id: str, number: int, attempt: int) -> bool:
    """Take trial ``number``'s ``attempt``: True for exactly one caller, in any process."""
    taker = dict(liveness.identity(), t=time.time())
    return claim_file(claims_dir(layout, sweep_id) / f"{number}.{attempt}", dumps(taker))


def claims(layout: Layout, sweep_id: str) -> dict[tuple[int, int], dict]:
    """Every claim as ``{(number, attempt): taker}`` (taker may be {} while being written)."""
    out: dict[tuple[int, int], dict] = {}
    folder = claims_dir(layout, sweep_id)
    for path in visible_files(folder, ""):  # listed: an object store's answer is kept
        number, dot, attempt = path.name.partition(".")
        if not (dot and number.isdigit() and attempt.isdigit()):
            continue
        try:
            taker = json.loads(read_claim(path) or "{}")
        except (OSError, ValueError):
            taker = {}
        out[(int(number), int(attempt))] = taker if isinstance(taker, dict) else {}
    return out

