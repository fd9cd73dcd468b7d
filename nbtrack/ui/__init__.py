"""What a person sees: anywidget panels over the widget comm (no server, no network) and the
text summaries behind ``%track show`` in a terminal.

``show()`` picks the panel for what it is given; the panels' JavaScript is ``js/``, bundled
into ``static/`` (see :mod:`nbtrack.ui.bundle`).
"""

from __future__ import annotations

from ..errors import NbtrackError

INSTALL_HINT = "pip install 'nbtrack[notebook]'  (anywidget and ipywidgets draw the panels)"


class PanelsUnavailableError(NbtrackError, ImportError):
    """anywidget or ipywidgets is not installed."""


def _require_widgets() -> None:
    try:
        import anywidget  # noqa: F401
        import ipywidgets  # noqa: F401
    except ImportError as exc:
        raise PanelsUnavailableError(f"nbtrack panels need {exc.name}: {INSTALL_HINT}") from None


def show(layout, target=None, experiments: bool = False, experiment=None, tab: str | None = None,
         **state):
    """The run table (``target`` None, a runs() frame or a list of runs), or one run's page
    (``target`` a run id, name or Run); ``experiments=True`` opens the experiments list."""
    _require_widgets()
    from ..query import runs as runs_q

    if target is not None and not isinstance(target, (list, tuple, set)) and not hasattr(target, "columns"):
        from .run_page import RunPage

        return RunPage(layout, target, tab=tab or "overview")
    from .run_table import RunTable

    run_ids = None
    if target is not None:
        if hasattr(target, "columns"):
            run_ids = target["run_id"].to_list()
        else:
            run_ids = [runs_q.resolve(layout, r) for r in target]
    if isinstance(experiment, str):
        experiment = [experiment]
    return RunTable(layout, run_ids=run_ids, tab=tab or ("experiments" if experiments else "runs"),
                    experiment=list(experiment or []), **state)
