"""Shared by the benchmark workers: timing statistics, memory readings, the result line.

Every measurement runs in a fresh worker process (``_nbtrack_work.py`` or
``_mlflow_work.py``) that prints one ``RESULT {json}`` line; ``bench_core.py``
starts the workers, collects those lines and prints the table.
"""

from __future__ import annotations

import json
import random
import resource
import statistics
import sys
from pathlib import Path

RESULT_PREFIX = "RESULT "
MASK = (1 << 20) - 1  # values[i & MASK]: a cycle longer than any buffer the store compresses
_values: list[float] = []


def random_values() -> list[float]:
    """2**20 seeded random doubles: full 52-bit mantissas, like a noisy float64 loss.

    The worst case for compression (a float32 loss has 29 zero bits), so the disk
    figures are upper bounds. Built once per process, before any timing starts.
    """
    if not _values:
        rng = random.Random(20240601)
        _values.extend(rng.random() for _ in range(MASK + 1))
    return _values


def value(i: int) -> float:
    """The value logged at step ``i``."""
    return random_values()[i & MASK]


def percentile(xs: list[float], q: float) -> float:
    """Nearest-rank percentile, ``q`` in [0, 100]."""
    s = sorted(xs)
    k = max(0, min(len(s) - 1, round(q / 100 * (len(s) - 1))))
    return s[k]


def chunk_stats(chunk_ns: list[int], per_chunk: int, total_calls: int | None = None) -> dict:
    """Per-call figures from chunk timings: median, p90, max and overall mean (ns)."""
    per_call = [t / per_chunk for t in chunk_ns]
    total = total_calls if total_calls is not None else per_chunk * len(chunk_ns)
    return {
        "median_ns": statistics.median(per_call),
        "p90_ns": percentile(per_call, 90),
        "max_ns": max(per_call),
        "mean_ns": sum(chunk_ns) / total,
        "chunks": len(chunk_ns),
        "calls_per_chunk": per_chunk,
    }


def status_kb(field: str) -> int | None:
    """A ``VmRSS`` / ``VmHWM`` line of /proc/self/status, in kB (Linux only)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False where that is not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_kb() -> int:
    hwm = status_kb("VmHWM")
    if hwm is not None:
        return hwm
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux


def rss_kb() -> int:
    rss = status_kb("VmRSS")
    return rss if rss is not None else peak_rss_kb()


def dir_bytes(folder: Path, pattern: str = "*") -> tuple[int, int]:
    """Total size and count of files under ``folder`` matching ``pattern`` (recursive)."""
    total = count = 0
    for p in Path(folder).rglob(pattern):
        if p.is_file():
            total += p.stat().st_size
            count += 1
    return total, count


def emit(result: dict) -> None:
    sys.stdout.write(RESULT_PREFIX + json.dumps(result) + "\n")
    sys.stdout.flush()


def main(tasks: dict) -> None:
    """``python worker.py TASK '{"param": ...}'``: run one task, print its result line."""
    name, params = sys.argv[1], json.loads(sys.argv[2] if len(sys.argv) > 2 else "{}")
    emit(tasks[name](**params))
