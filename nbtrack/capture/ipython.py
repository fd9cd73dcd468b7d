"""Install nbtrack's capture hooks on an IPython shell, once.

``%load_ext nbtrack`` installs them (with the magics); ``start_run`` inside a
kernel installs them too, so a run made with the plain API in a notebook still
records its cells. Installing twice is a no-op.
"""

from __future__ import annotations

_ATTR = "_nbtrack_capture"


def current_shell():
    """The running IPython shell, or None (plain Python)."""
    import sys

    module = sys.modules.get("IPython")
    get = getattr(module, "get_ipython", None) if module else None
    return get() if get else None


def install(shell) -> dict:
    state = getattr(shell, _ATTR, None)
    if state is not None:
        return state
    from ..store.layout import Layout
    from .cells import CellRecorder
    from .commands import CommandRecorder

    cells = CellRecorder(shell, Layout(create=False))  # written once a run makes the store
    cells.register()
    commands = CommandRecorder(shell)
    commands.register()
    state = {"cells": cells, "commands": commands}
    setattr(shell, _ATTR, state)
    return state


def installed(shell) -> dict | None:
    return getattr(shell, _ATTR, None)


def uninstall(shell) -> None:
    state = getattr(shell, _ATTR, None)
    if state is None:
        return
    state["cells"].unregister()
    state["commands"].unregister()
    delattr(shell, _ATTR)
