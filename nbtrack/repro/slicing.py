"""Which earlier cells a run depends on: a backward slice over the kernel history.

Walking back from the run's last cell, a cell is kept when it (re)binds or may
mutate a name that a kept later cell reads. Definitions come from what the
kernel *observed* (names whose object changed after the cell ran) when it was
watching, else from static analysis; uses, possible mutations and the globals a
function reads when it is called come from static analysis (``analysis``).
Names read through a function or an object are resolved where it is *called*,
so a function defined early that reads a global changed later pulls in the
later change.

When the analysis cannot be sure (an opaque cell: ``exec``, ``%run``, ``from m
import *``, an unknown magic or shell command), the cell is kept as long as
anything is still needed: correct beats short. Cells that raised are left out,
and so are cells whose effects the run never uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .analysis import CellFacts, analyse


@dataclass
class SliceCell:
    index: int
    row: dict
    facts: CellFacts
    in_run: bool
    reasons: set[str] = field(default_factory=set)


@dataclass
class Slice:
    cells: list[SliceCell]  # kept cells, in execution order
    dropped: list[SliceCell]  # earlier cells left out, with why not kept in `reasons`
    unresolved: set[str]  # names the run reads that no kept cell provides

    @property
    def run_cells(self) -> list[SliceCell]:
        return [c for c in self.cells if c.in_run]

    @property
    def dependency_cells(self) -> list[SliceCell]:
        return [c for c in self.cells if not c.in_run]


def _defs(row: dict, facts: CellFacts) -> set[str]:
    """Names the cell rebound: observed when the kernel watched it, else static."""
    if not row.get("before_load") and row.get("bound") is not None:
        return set(row.get("bound") or ())
    return set(facts.defs)


def _deletes(row: dict, facts: CellFacts) -> set[str]:
    if not row.get("before_load") and row.get("deleted") is not None:
        return set(row.get("deleted") or ())
    return set(facts.deletes)


def slice_session(rows: list[dict], run_id: str, restored_paths: set[str] = frozenset()) -> Slice:
    """Kept cells of ``rows`` (the session's cells in execution order) for ``run_id``.

    ``restored_paths`` are files the export restores from the store itself, so the
    cells that wrote them are not needed for them.
    """
    cells = [
        SliceCell(i, row, analyse(row.get("source") or ""), run_id in (row.get("run_ids") or ()))
        for i, row in enumerate(rows)
    ]
    run_positions = [c.index for c in cells if c.in_run]
    if not run_positions:
        return Slice([], [], set())
    last = run_positions[-1]
    cells = cells[: last + 1]
    restored = {"file:" + p.lstrip("./") for p in restored_paths}

    # forward pass: for each cell, where each name was last defined before it, and the
    # callables a name may run when used (functions, objects made by calling them)
    carried_at: list[dict[str, set[str]]] = []
    carried: dict[str, set[str]] = {}
    function_reads: dict[tuple[int, str], set[str]] = {}
    for c in cells:
        carried_at.append(dict(carried))
        if c.row.get("ok") is False:
            continue
        for name, facts in c.facts.functions.items():
            function_reads[(c.index, name)] = facts.reads | facts.assigns | facts.mutates
        for name in _defs(c.row, c.facts):
            callees = c.facts.carries.get(name)
            if name in c.facts.functions:
                carried[name] = {f"fn:{c.index}:{name}"}
            elif callees:
                carried[name] = set().union(*(carried.get(x, set()) for x in callees)) | {
                    f"fn:{c.index}:{x}" for x in callees if x in c.facts.functions
                }
            else:
                carried.pop(name, None)

    def effective_uses(c: SliceCell) -> set[str]:
        """The cell's reads plus what the functions/objects it touches read when called."""
        uses = set(c.facts.uses) | c.facts.mutates
        seen: set[str] = set()
        work = list(uses)
        env = carried_at[c.index]
        while work:
            name = work.pop()
            for token in env.get(name, ()):
                if token in seen:
                    continue
                seen.add(token)
                _, idx, fname = token.split(":", 2)
                for read in function_reads.get((int(idx), fname), ()):
                    if read not in uses:
                        uses.add(read)
                        work.append(read)
        uses.add("@cwd")
        if "track" in c.facts.magics:
            uses.add("@ext:nbtrack")
        return uses

    live: set[str] = set()
    kept: list[SliceCell] = []
    dropped: list[SliceCell] = []
    for c in reversed(cells):
        if c.row.get("ok") is False:
            c.reasons.add("raised")
            dropped.append(c)
            continue
        writes = _defs(c.row, c.facts) | c.facts.mutates | _deletes(c.row, c.facts)
        writes |= {f"@ext:{e}" for e in c.facts.extensions}
        writes |= {p for p in c.facts.paths if p not in restored}
        if c.in_run:
            keep = True
            c.reasons.add("run cell")
        else:
            hit = writes & live
            keep = bool(hit)
            c.reasons |= hit
            if not keep and c.facts.opaque and live - {"@cwd"}:
                keep = True
                c.reasons.add("opaque cell (effects unknown)")
        if not keep:
            dropped.append(c)
            continue
        kept.append(c)
        strong = _defs(c.row, c.facts) - c.facts.uses
        live -= strong
        live -= _deletes(c.row, c.facts)
        live |= effective_uses(c)
        live |= {p for p in c.facts.paths if p not in restored}
    kept.reverse()
    dropped.reverse()
    unresolved = {n for n in live if not n.startswith(("@", "file:"))}
    return Slice(kept, dropped, unresolved)
