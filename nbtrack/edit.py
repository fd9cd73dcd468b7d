"""Editing what is already stored: finished runs and experiments.

``open_run(id)`` gives a :class:`~nbtrack.run.Run` whose edits (tags, notes,
metadata, archive) are written at once and refresh the run's index row;
``experiment(name)`` gives a handle to describe, tag and archive an experiment.
"""

from __future__ import annotations

import os

from .active import check_experiment, layout_for
from .query import experiments as experiments_q
from .query import runs as runs_q
from .run import Run, _iter_tags, check_tag
from .store import records, state


def open_run(ref: object, store: str | os.PathLike | None = None) -> Run:
    """A handle on a stored run for edits (``add_tags``, ``note``, ``archive``, ...).

    >>> nbtrack.open_run("blazing-curie-0544").add_tags("baseline")
    """
    __tracebackhide__ = True  # noqa: F841 - IPython hides this frame
    layout = layout_for(store, create=False)
    run_id = runs_q.resolve(layout, ref)
    st = state.load(layout, run_id) or {}
    run = Run(layout, run_id, st.get("name") or run_id, st.get("experiment") or "", owner=False)
    run._ended = True  # no metrics into a stored run; edits only
    run._editing = True
    run.status = st.get("status") or "running"
    return run


class Experiment:
    """A named group of runs. ``nbtrack.experiment("bert-ft").archive()``."""

    def __init__(self, name: str, store: str | os.PathLike | None = None):
        __tracebackhide__ = True  # noqa: F841 - IPython hides this frame
        self.name = check_experiment(name)
        self.layout = layout_for(store, create=False)

    def _write(self, **fields) -> None:
        import time

        records.write_records(
            self.layout.experiments_dir,
            [{"type": "experiment", "t": time.time(), "experiment": self.name, **fields}],
        )

    def describe(self) -> dict:
        """Description, tags, archive flag, run counts by status, params and metrics used."""
        return experiments_q.describe(self.layout, self.name)

    def set_description(self, text: str) -> None:
        if not isinstance(text, str):
            raise TypeError(f"description must be text, got {type(text).__name__}")
        self._write(description=text)

    def add_tags(self, *tags: str) -> None:
        self._write(add_tags=[check_tag(t) for t in _iter_tags(tags)])

    def remove_tags(self, *tags: str) -> None:
        self._write(remove_tags=[check_tag(t) for t in _iter_tags(tags)])

    def archive(self) -> None:
        """Hide the experiment and its runs unless ``include_archived=True``."""
        self._write(archived=True)

    def unarchive(self) -> None:
        self._write(archived=False)

    def runs(self, **kwargs):
        return runs_q.runs(self.layout, experiment=self.name, **kwargs)

    def __repr__(self) -> str:
        return f"<nbtrack.Experiment {self.name!r}>"
