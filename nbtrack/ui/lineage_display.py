"""How a :class:`~nbtrack.query.lineage.Lineage` shows itself in a Jupyter kernel: as the
lineage graph panel. ``query`` knows nothing of widgets; ``nbtrack.lineage()`` installs
:func:`mimebundle` as the query layer's display hook. Light to import: the widget classes load
only when a Lineage is displayed in a kernel."""

from __future__ import annotations

import sys


def mimebundle(lineage, include=None, exclude=None):
    """The panel's MIME bundle (widget view, escaped HTML table, text), or None outside a
    Jupyter kernel or without the widget libraries (the Lineage then shows its HTML table)."""
    if "ipykernel" not in sys.modules or getattr(lineage, "store_layout", None) is None:
        return None
    from . import PanelsUnavailableError, _require_widgets

    try:
        _require_widgets()
    except PanelsUnavailableError:
        return None
    from .panel import in_kernel

    if not in_kernel():
        return None
    panel = lineage.__dict__.get("_panel")
    if panel is None or panel.comm is None:
        from .lineage_panel import LineagePanel

        panel = lineage.__dict__["_panel"] = LineagePanel(lineage, lineage.store_layout)
    return panel._repr_mimebundle_(include=include, exclude=exclude)


def install() -> None:
    """Make every Lineage display as the panel from now on (in a kernel)."""
    from ..query import lineage

    lineage.display_hook = mimebundle
