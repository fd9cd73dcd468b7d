"""Corruption at full strength: a single-bit flip at every byte of a flush segment, a
compact metrics file, an index compact file and a run's events file; truncation at
every offset of an events file and a segment. After each, the
whole store is read: 0 silent wrong values, 0 crashed reads, every other run whole.

    python stress/corruption.py [--quick]
"""

from __future__ import annotations

import argparse
import time

from _common import fresh_store, report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    samples = 40 if args.quick else None  # None: every byte
    started = time.time()
    root = fresh_store("corruption")
    import nbtrack
    from nbtrack.store import index, metric_files
    from nbtrack.store.layout import Layout

    from faults import Tally, flip_bits, make_runs, offsets, snapshot, truncate

    made = make_runs(3, points=60, flushes=3)
    with nbtrack.start_run("exp", name="segments") as seg:
        for step in range(40):
            seg.log({"loss": step * 0.5, "acc": step / 40}, step=step)
            if step % 20 == 19:
                seg.flush()
        real = metric_files.compact
        metric_files.compact = lambda *a, **k: None  # keep its flush segments unmerged
        try:
            seg.end()
        finally:
            metric_files.compact = real
    middle = made[1]

    def files(run_id, folder):
        return sorted(p for p in (root / "runs" / run_id / folder).iterdir()
                      if not p.name.startswith("."))

    targets = {
        "segment": (files(seg.id, "metrics")[0], seg.id),
        "compact": (files(middle.id, "metrics")[0], middle.id),
        "events": (files(middle.id, "events")[0], middle.id),  # the start event
        "index_compact": (index.compact(Layout(root)), None),
    }
    expected = snapshot()
    figures: dict = {}
    total = Tally()
    for label, (path, bad_run) in targets.items():
        tally = flip_bits(path, offsets(path.stat().st_size, samples), expected, bad_run)
        figures[f"flip_{label}"] = {"bytes": path.stat().st_size, "cases": tally.cases,
                                   "detected": tally.detected, "silent_wrong": tally.silent_wrong,
                                   "crashed": tally.crashed, "others_lost": tally.others_lost}
        total.add(tally)
    for label in ("events", "segment"):
        path, bad_run = targets[label]
        tally = truncate(path, offsets(path.stat().st_size, samples), expected, bad_run)
        figures[f"truncate_{label}"] = {"bytes": path.stat().st_size, "cases": tally.cases,
                                       "detected": tally.detected,
                                       "silent_wrong": tally.silent_wrong,
                                       "crashed": tally.crashed, "others_lost": tally.others_lost}
        total.add(tally)
    figures.update({"cases": total.cases, "silent_wrong": total.silent_wrong,
                    "crashed_reads": total.crashed, "others_lost": total.others_lost,
                    "undetected": total.cases - total.detected - total.harmless,
                    "examples": total.examples[:3]})
    figures["_failed"] = bool(total.silent_wrong or total.crashed or total.others_lost)
    return report("corruption", figures, started)


if __name__ == "__main__":
    raise SystemExit(main())
