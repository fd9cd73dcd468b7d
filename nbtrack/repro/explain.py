"""Why an export holds the cells it holds, in words a user can check.

For each earlier cell kept: which names it defines or changes that which later
kept cell reads (``defines `X` used by In [9] (run)``), or that it is opaque and
what made it so; where a global random generator is put back; which cells were
left out and why; which run cells compute values nbtrack cannot control.
"""

from __future__ import annotations

from .slicing import RNG, Slice, SliceCell, _defs, _deletes


def _thing(name: str, cell: SliceCell) -> tuple[str, str]:
    """(verb, object) for one reason a cell was kept."""
    if name.startswith(RNG):
        return "advances", f"{name[len(RNG):]}'s global random generator"
    if name.startswith("file:"):
        return "writes", f"the file `{name[5:]}`"
    if name.startswith("@ext:"):
        return "loads", f"the extension `{name[5:]}`"
    if name == "@cwd":
        return "changes", "the working directory"
    if name.startswith("@"):
        return "changes", f"`{name}`"
    if name in _deletes(cell.row, cell.facts):
        return "deletes", f"`{name}`"
    if name in _defs(cell.row, cell.facts):
        return "defines", f"`{name}`"
    return "mutates", f"`{name}`"


def _readers(the_slice: Slice, indexes: set[int]) -> str:
    labels = []
    for i in sorted(indexes):
        c = the_slice.history[i]
        labels.append(c.label + (" (run)" if c.in_run else ""))
    return ", ".join(labels)


def kept_reason(the_slice: Slice, cell: SliceCell) -> str:
    parts: list[str] = []
    by_use: dict[tuple[str, str], list[str]] = {}
    for name, readers in sorted(cell.why.items()):
        verb, what = _thing(name, cell)
        by_use.setdefault((verb, _readers(the_slice, readers)), []).append(what)
    for (verb, readers), things in by_use.items():
        parts.append(f"{verb} {', '.join(things)} used by {readers}")
    if cell.facts.opaque:
        what = ", ".join(dict.fromkeys(cell.facts.opaque_why))
        if parts:
            parts.append(f"also opaque ({what})")
        else:
            parts.append(f"opaque ({what}): its effects cannot be known, so it stays while "
                         "anything is still needed")
    if "replayed (every cell kept)" in cell.reasons:
        parts.append("replayed (every cell that did not raise is kept)")
    return "; ".join(parts) or "kept"


def _dropped_reason(cell: SliceCell) -> str:
    if "raised" in cell.reasons:
        return "raised"
    names = sorted(n for n in _defs(cell.row, cell.facts) if not n.startswith("@"))
    if cell.rng and not names:
        return "only advanced " + ", ".join(sorted(cell.rng)) + "'s random generator (restored)"
    if names:
        shown = ", ".join(f"`{n}`" for n in names[:6]) + (" ..." if len(names) > 6 else "")
        return f"nothing the run reads ({shown} unused or rebound first)"
    return "no effect the run reads"


def explanation(the_slice: Slice) -> str:
    """Markdown, one line per earlier cell; plain enough to print as it is."""
    lines = ["**Why these cells.** Each earlier cell is kept because a later kept cell "
             "reads what it defines or changes:", ""]
    deps = the_slice.dependency_cells
    for c in deps:
        lines.append(f"- {c.label} kept: {kept_reason(the_slice, c)}")
    if not deps:
        lines.append("- (no earlier cell is needed)")
    runs = the_slice.run_cells
    if runs:
        lines.append(f"- {', '.join(c.label for c in runs)}: the run's own cells")
    for c in the_slice.cells:
        if c.restores:
            gens = ", ".join(sorted(c.restores))
            lines.append(f"- random state: {gens} put back as it was when {c.label} ran "
                         "(the cells that advanced it before need not run)")
    if the_slice.dropped:
        lines += ["", "Left out:"]
        lines += [f"- {c.label}: {_dropped_reason(c)}" for c in the_slice.dropped]
    flagged = [c for c in the_slice.cells if c.uncontrolled]
    if flagged:
        lines += ["", "Values nbtrack cannot control (reported apart when they differ):"]
        lines += [f"- {c.label}: {'; '.join(c.uncontrolled)}" for c in flagged]
    if the_slice.unresolved:
        lines += ["", "Names the run reads that no recorded cell defines: "
                  + ", ".join(f"`{n}`" for n in sorted(the_slice.unresolved))]
    return "\n".join(lines)
