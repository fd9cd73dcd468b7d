"""One run's metric series as the charts read them (``nbtrack.query.series``), on a local
folder and on a bucket."""

from __future__ import annotations

import pytest

import nbtrack
from nbtrack import active
from nbtrack.query import series

pytestmark = pytest.mark.backends


def test_a_runs_series_reads_back_in_log_order_with_its_keys_chosen(store):
    with nbtrack.start_run("e") as run:
        for i in range(5):
            run.log({"loss": i / 10, "acc": 1 - i / 10}, step=i)
            run.flush()  # one file per step: several files to read
    frame = series.read_run(active.layout_for(), run.id, ["loss"])
    assert frame.columns == ["key", "step", "value", "time"]
    assert frame["key"].unique().to_list() == ["loss"]
    assert frame["step"].to_list() == [0, 1, 2, 3, 4]
    assert frame["value"].to_list() == [0.0, 0.1, 0.2, 0.3, 0.4]
    both = series.read_run(active.layout_for(), run.id, time=False)
    assert both.columns == ["key", "step", "value"] and both.height == 10
