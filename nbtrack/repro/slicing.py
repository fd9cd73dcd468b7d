"""Which earlier cells a run depends on: a backward slice over the kernel history.

Walking back from the run's last cell, a cell is kept when it (re)binds or may
mutate a name that a kept later cell reads. Definitions come from what the
kernel *observed* (names whose object changed after the cell ran) when it was
watching, else from static analysis; uses, possible mutations and the globals a
function reads when it is called come from static analysis (``analysis``), with
calls resolved through the imports seen so far in the session. Names read
through a function or an object are resolved where it is *called*, so a function
defined early that reads a global changed later pulls in the later change. A
kept cell that reads every name (``globals()``, ``vars()``, ``%whos``) needs every
name bound before it.

When the analysis cannot be sure (an opaque cell: ``exec``, ``%run``, ``from m
import *``, an unknown magic or shell command), the cell is kept as long as
anything is still needed: correct beats short. Cells that raised are left out,
and so are cells whose effects the run never uses.

Global random generators (Python's ``random``, numpy's, torch's) are restored,
not replayed. The recorder keeps, for each cell that advanced a generator, the
generator's state just before the cell. The export puts that state back right
before a kept cell whose draws would otherwise start elsewhere: the first kept
cell to use the generator, and any kept cell after a left-out cell that advanced
it. So the cells that only advanced a generator (a seed, a plot of noise, an
unseeded ``train_test_split``) are not needed, and this stays exact when an
earlier *kept* cell also draws: that cell starts from its own recorded state and
advances the generator as it did in the session; the next kept drawer either
follows it directly in the session (then the state it finds is, by induction,
the one it found originally) or gets its own recorded state back, which discards
whatever the earlier cells drew. Cells whose generator state was not observed
(run before ``%load_ext``) fall back to replay: they read and write ``@rng:<g>``
like any name, so the seed and the draws before them are kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .analysis import CellFacts, analyse

RNG = "@rng:"


@dataclass
class SliceCell:
    index: int
    row: dict
    facts: CellFacts
    in_run: bool
    reasons: set[str] = field(default_factory=set)
    why: dict[str, set[int]] = field(default_factory=dict)  # name -> kept cells reading it
    restores: dict[str, str] = field(default_factory=dict)  # generator -> state sha256
    uncontrolled: list[str] = field(default_factory=list)  # values it cannot repeat, and why
    rng: dict[str, str | None] = field(default_factory=dict)  # generators it advanced
    observed: bool = False

    @property
    def label(self) -> str:
        count = self.row.get("execution_count")
        return f"In [{count}]" if count is not None else f"cell {self.index + 1}"


@dataclass
class Slice:
    cells: list[SliceCell]  # kept cells, in execution order
    dropped: list[SliceCell]  # earlier cells left out, with why not kept in `reasons`
    unresolved: set[str]  # names the run reads that no kept cell provides
    history: list[SliceCell] = field(default_factory=list)  # every cell up to the run's last

    @property
    def run_cells(self) -> list[SliceCell]:
        return [c for c in self.cells if c.in_run]

    @property
    def dependency_cells(self) -> list[SliceCell]:
        return [c for c in self.cells if not c.in_run]


def _observed(row: dict) -> bool:
    return not row.get("before_load") and row.get("bound") is not None


def _defs(row: dict, facts: CellFacts) -> set[str]:
    """Names the cell rebound: observed when the kernel watched it, else static."""
    if _observed(row):
        return {n for n in row.get("bound") or () if not n.startswith(RNG)}
    return {n for n in facts.defs if not n.startswith(RNG)}


def _deletes(row: dict, facts: CellFacts) -> set[str]:
    if not row.get("before_load") and row.get("deleted") is not None:
        return set(row.get("deleted") or ())
    return set(facts.deletes)


def _rng_changes(row: dict, facts: CellFacts) -> dict[str, str | None]:
    """Generators the cell advanced: observed (with the state before it), else static."""
    if _observed(row):
        out: dict[str, str | None] = {}
        for entry in row.get("bound") or ():
            if entry.startswith(RNG):
                name, _, sha = entry[len(RNG):].partition("=")
                out[name] = sha or None
        return out
    return {n[len(RNG):]: None for n in facts.defs | facts.mutates if n.startswith(RNG)}


def _strip_rng(names: set[str]) -> set[str]:
    return {n for n in names if not n.startswith(RNG)}


def slice_session(rows: list[dict], run_id: str, restored_paths: set[str] = frozenset(),
                  keep_all: bool = False) -> Slice:
    """Kept cells of ``rows`` (the session's cells in execution order) for ``run_id``.

    ``restored_paths`` are files the export restores from the store itself, so the
    cells that wrote them are not needed for them. ``keep_all`` keeps every cell
    that did not raise (the naive "replay everything" export, for comparison).
    """
    cells: list[SliceCell] = []
    known: dict[str, str] = {}  # name -> library origin, as bound by the cells so far
    functions: dict = {}  # name -> FunctionFacts of the user functions defined so far
    for i, row in enumerate(rows):
        facts = analyse(row.get("source") or "", known, functions)
        cell = SliceCell(i, row, facts, run_id in (row.get("run_ids") or ()))
        cell.observed = _observed(row)
        cell.rng = _rng_changes(row, facts)
        cells.append(cell)
        if row.get("ok") is not False:
            for name in _defs(row, facts) | set(facts.origins):
                origin = facts.origins.get(name)
                if origin:
                    known[name] = origin
                else:
                    known.pop(name, None)
                if name in facts.functions:
                    functions[name] = facts.functions[name]
                else:
                    functions.pop(name, None)
    run_positions = [c.index for c in cells if c.in_run]
    if not run_positions:
        return Slice([], [], set())
    last = run_positions[-1]
    cells = cells[: last + 1]
    restored = {"file:" + p.lstrip("./") for p in restored_paths}

    # forward pass: for each cell, where each name was last defined before it, and the
    # callables a name may run when used (functions, objects made by calling them)
    carried_at: list[dict[str, set[str]]] = []
    bound_before: list[set[str]] = []
    carried: dict[str, set[str]] = {}
    function_reads: dict[tuple[int, str], set[str]] = {}
    everything: set[str] = set()
    for c in cells:
        carried_at.append(dict(carried))
        bound_before.append(set(everything))
        if c.row.get("ok") is False:
            continue
        everything |= _defs(c.row, c.facts)
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

    def uses_of(c: SliceCell) -> set[str]:
        uses = set(c.facts.uses) | c.facts.mutates
        if c.observed:  # its draws start from a recorded state: no earlier cell needed
            uses = _strip_rng(uses)
        return uses

    def effective_uses(c: SliceCell) -> set[str]:
        """The cell's reads plus what the functions/objects it touches read when called."""
        uses = uses_of(c)
        seen: set[tuple[str, frozenset[str]]] = set()
        # functions (and objects made by calling them) the cell defines and calls itself
        env = dict(carried_at[c.index])
        for name in c.facts.functions:
            env[name] = {f"fn:{c.index}:{name}"}
        for name, callees in c.facts.carries.items():
            if name not in c.facts.functions:
                env[name] = set().union(*(env.get(x, set()) for x in callees))
        # what a function reads is not needed from earlier cells when the cell bound it
        # itself before calling the function (``import numpy as np`` then ``f()``)
        at_call = c.facts.bound_at_call
        work = [(n, at_call.get(n, frozenset())) for n in uses | (c.facts.called & set(env))]
        while work:
            name, shield = work.pop()
            for token in env.get(name, ()):
                if (token, shield) in seen:
                    continue
                seen.add((token, shield))
                _, idx, fname = token.split(":", 2)
                for read in function_reads.get((int(idx), fname), ()):
                    if read not in uses and read not in shield:
                        uses.add(read)
                        work.append((read, shield))
        if c.facts.reads_all:
            uses |= bound_before[c.index]
        uses.add("@cwd")
        if "track" in c.facts.magics:
            uses.add("@ext:nbtrack")
        return uses

    live: dict[str, set[int]] = {}
    direct: set[str] = set()  # live names some kept cell reads itself (not in a function body)
    kept: list[SliceCell] = []
    dropped: list[SliceCell] = []
    for c in reversed(cells):
        if c.row.get("ok") is False:
            c.reasons.add("raised")
            dropped.append(c)
            continue
        writes = _defs(c.row, c.facts) | _strip_rng(c.facts.mutates) | _deletes(c.row, c.facts)
        writes |= {RNG + g for g in c.rng}
        writes |= {f"@ext:{e}" for e in c.facts.extensions}
        writes |= {p for p in c.facts.paths if p not in restored}
        if c.in_run:
            keep = True
            c.reasons.add("run cell")
        else:
            hit = writes & set(live)
            keep = bool(hit)
            c.reasons |= hit
            c.why = {n: set(live[n]) for n in hit}
            if not keep and c.facts.opaque and set(live) - {"@cwd"}:
                keep = True
                c.reasons.add("opaque cell (effects unknown)")
            if not keep and keep_all:
                keep = True
                c.reasons.add("replayed (every cell kept)")
        if not keep:
            dropped.append(c)
            continue
        kept.append(c)
        # what it rebinds for sure when it runs again in the export: observed, and the
        # names its top-level statements bind (observation misses a rebinding to the same
        # object, ``n = 50`` after ``n = 50``)
        strong = (_defs(c.row, c.facts) | _strip_rng(c.facts.certain_defs)) - c.facts.uses
        strong |= {n for n in c.facts.defs if n.startswith(RNG) and n not in c.facts.uses}
        for name in strong | _deletes(c.row, c.facts):
            live.pop(name, None)
            direct.discard(name)
        for name in effective_uses(c) | {p for p in c.facts.paths if p not in restored}:
            live.setdefault(name, set()).add(c.index)
        direct |= uses_of(c) | (bound_before[c.index] if c.facts.reads_all else set())
    kept.reverse()
    dropped.reverse()
    # only names read directly: a function body may name globals on paths never taken
    unresolved = {n for n in live if n in direct and not n.startswith(("@", "file:"))}
    result = Slice(kept, dropped, unresolved, cells)
    if not keep_all:  # the naive replay restores nothing: it replays
        _plan_restores(result)
    _mark_uncontrolled(result)
    return result


def _plan_restores(the_slice: Slice) -> None:
    """Where the export must put a global generator back (see the module docstring)."""
    kept = {c.index for c in the_slice.cells}
    good: dict[str, bool] = {}  # generator -> the export's state equals the session's here
    for c in the_slice.history:
        if c.row.get("ok") is False:
            for g in c.rng:  # it may have drawn before it raised
                good[g] = False
            continue
        for g, sha in c.rng.items():
            if c.index not in kept:
                good[g] = False
            elif not good.get(g) and sha:
                c.restores[g] = sha
                good[g] = True
            elif not good.get(g):
                seeds = f"{RNG}{g}" in c.facts.defs and f"{RNG}{g}" not in c.facts.uses
                good[g] = seeds
                if not seeds and (c.observed or f"{RNG}{g}" in c.facts.uses):
                    c.uncontrolled.append(
                        f"draws from {g}'s global generator in a state nbtrack never saw "
                        "(seeded from OS entropy at import)")


def _mark_uncontrolled(the_slice: Slice) -> None:
    """Which kept cells compute values a fresh kernel cannot repeat: they read the wall
    clock or OS entropy, or a name such a cell (re)bound."""
    tainted: dict[str, str] = {}  # name -> why its value is uncontrolled
    for c in the_slice.cells:
        reasons = list(dict.fromkeys(c.facts.sources)) + c.uncontrolled
        for name in sorted(c.facts.uses | c.facts.mutates):
            if name in tainted:
                reasons.append(f"reads `{name}` ({tainted[name]})")
        c.uncontrolled = list(dict.fromkeys(reasons))
        if c.uncontrolled:
            why = f"{c.label}: {c.uncontrolled[0]}"
            for name in _defs(c.row, c.facts) | _strip_rng(c.facts.mutates):
                tainted.setdefault(name, why)
        else:  # a clean new value replaces a tainted one
            for name in _defs(c.row, c.facts) - c.facts.uses:
                tainted.pop(name, None)
