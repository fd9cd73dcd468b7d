"""Fault experiments shared by the fast tests (``tests/test_corruption.py``,
``tests/test_faults.py``) and the full-strength drivers in ``stress/``: damage a
store file byte by byte, read everything back, count what went wrong.

Imported as ``from faults import ...``; every function takes its strength (how many
offsets, which bits) from its arguments, so CI runs a sample and ``stress/`` runs all.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import nbtrack
from nbtrack.errors import CorruptFileWarning
from nbtrack.store import checksum


@dataclass
class Tally:
    """What happened over a series of damaged reads."""

    cases: int = 0
    detected: int = 0          # a CorruptFileWarning named the damaged file
    harmless: int = 0          # nothing read changed and nothing was warned (no effect)
    silent_wrong: int = 0      # a value read back differs from what was written
    crashed: int = 0           # a read raised
    others_lost: int = 0       # data of an undamaged run went missing
    examples: list = field(default_factory=list)

    def add(self, other: Tally) -> None:
        for name in ("cases", "detected", "harmless", "silent_wrong", "crashed", "others_lost"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.examples += other.examples[: max(0, 5 - len(self.examples))]

    def __str__(self) -> str:
        return (f"{self.cases} cases: {self.detected} detected, {self.harmless} harmless, "
                f"{self.silent_wrong} silently wrong, {self.crashed} crashed reads, "
                f"{self.others_lost} with other runs' data lost")


def make_runs(n: int = 3, points: int = 40, flushes: int = 2) -> list:
    """``n`` finished runs, each with params, metadata and ``points`` points of two keys
    over ``flushes`` flushes (compacted into one file at the end)."""
    made = []
    for i in range(n):
        with nbtrack.start_run("exp", name=f"r{i}", params={"i": i, "lr": 0.1 * (i + 1)},
                               metadata={"who": {"n": i}}) as run:
            for f in range(flushes):
                for s in range(points // flushes):
                    step = f * (points // flushes) + s
                    run.log({"loss": 1.0 / (step + 1) + i, "acc": step * 0.01 + i}, step=step)
                run.flush()
        made.append(run)
    return made


def snapshot() -> dict:
    """Everything a reader sees: every metric row, and every run's summary row."""
    checksum.forget()
    points = nbtrack.metrics()
    rows = {}
    frame = nbtrack.runs()
    for row in frame.select([c for c in frame.columns if c not in ("duration_s", "cost")]) \
            .iter_rows(named=True):
        rows[row["run_id"]] = row
    return {
        "points": {(r, k, s, v) for r, k, s, v in
                   points.select("run_id", "key", "step", "value").iter_rows()},
        "runs": rows,
    }


def read_all(bad_run: str | None) -> tuple[dict | None, list[str], BaseException | None]:
    """Read everything with warnings recorded: (snapshot or None, warning texts, error)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            seen = snapshot()
            if bad_run is not None:
                try:
                    nbtrack.get_run(bad_run)
                except nbtrack.errors.NbtrackError:
                    pass  # the damaged run may have lost what made it a run: said so
            error = None
        except BaseException as exc:  # noqa: BLE001 - a polars panic is a BaseException
            if isinstance(exc, KeyboardInterrupt):
                raise
            seen, error = None, exc
    texts = [str(w.message) for w in caught if issubclass(w.category, CorruptFileWarning)]
    return seen, texts, error


def judge(expected: dict, path: Path, bad_run: str | None, label: str) -> Tally:
    """Read the store after ``path`` was damaged and compare with ``expected``."""
    from nbtrack.store import arrow_io

    arrow_io._warned.clear()
    tally = Tally(cases=1)
    seen, texts, error = read_all(bad_run)
    if error is not None:
        tally.crashed = 1
        tally.examples.append(f"{label}: {type(error).__name__}: {error}")
        return tally
    wrong = seen["points"] - expected["points"]
    runs_wrong = [rid for rid, row in seen["runs"].items()
                  if rid in expected["runs"] and _differs(row, expected["runs"][rid])]
    if wrong or runs_wrong:
        tally.silent_wrong = 1
        tally.examples.append(f"{label}: {len(wrong)} wrong points, runs {runs_wrong}")
    missing = {p for p in expected["points"] - seen["points"] if p[0] != bad_run}
    if missing or set(expected["runs"]) - set(seen["runs"]):
        tally.others_lost = 1
        tally.examples.append(f"{label}: {len(missing)} points of other runs missing")
    if any(path.name in t for t in texts):
        tally.detected = 1
    elif not wrong and not runs_wrong and seen == expected:
        tally.harmless = 1
    return tally


def _differs(a: dict, b: dict) -> bool:
    return a != b


def flip_bits(path: Path, offsets: Iterable[int], expected: dict, bad_run: str | None,
              bits: Iterable[int] = (0,)) -> Tally:
    """One single-bit flip at each offset (bit ``offset % 8`` unless ``bits`` says),
    the store read after each, the byte restored before the next."""
    tally = Tally()
    original = path.read_bytes()
    bits = tuple(bits)
    try:
        for offset in offsets:
            for bit in bits:
                bit = (offset + bit) % 8
                damaged = bytearray(original)
                damaged[offset] ^= 1 << bit
                _write_in_place(path, bytes(damaged))
                tally.add(judge(expected, path, bad_run, f"{path.name} byte {offset} bit {bit}"))
    finally:
        _write_in_place(path, original)
    return tally


def truncate(path: Path, lengths: Iterable[int], expected: dict, bad_run: str | None) -> Tally:
    """The file cut to each of ``lengths`` bytes, the store read after each."""
    tally = Tally()
    original = path.read_bytes()
    try:
        for n in lengths:
            _write_in_place(path, original[:n])
            tally.add(judge(expected, path, bad_run, f"{path.name} cut at {n}"))
    finally:
        _write_in_place(path, original)
    return tally


def _write_in_place(path: Path, data: bytes) -> None:
    """Damage as a disk does: the same file, its bytes changed (no rename)."""
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def offsets(size: int, samples: int | None) -> list[int]:
    """Every offset of a file of ``size`` bytes, or ``samples`` spread evenly over it."""
    if samples is None or samples >= size:
        return list(range(size))
    step = size / samples
    return sorted({int(i * step) for i in range(samples)})
