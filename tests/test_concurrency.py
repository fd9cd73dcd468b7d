"""The fast version of ``stress/concurrency.py``: writer processes (runs, merges as they
go, artifacts, index compaction, sweep trials) under concurrent readers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

DRIVER = Path(__file__).resolve().parent.parent / "stress" / "concurrency.py"


def test_writers_and_readers_at_once_lose_nothing_and_no_read_fails(tmp_path):
    proc = subprocess.run([sys.executable, str(DRIVER), "--quick", "--writers", "4",
                           "--readers", "2"], capture_output=True, text=True, timeout=600,
                          cwd=tmp_path)
    line = [x for x in proc.stdout.splitlines() if x.startswith("FIGURES ")][-1]
    figures = json.loads(line.split(" ", 2)[2])
    assert figures["reader_failures"] == 0 and figures["corrupt_warnings"] == 0, figures
    assert figures["points_lost"] == 0 and figures["points_duplicated"] == 0, figures
    assert figures["runs_wrong"] == 0 and figures["writer_failures"] == 0, figures
    assert figures["reads"] > 0 and figures["runs"] >= 4 * 3, figures
    assert proc.returncode == 0, proc.stderr[-2000:]
