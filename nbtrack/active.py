"""Starting runs, the active run, and the module-level twins of ``Run``'s methods.

``start_run`` pushes a run on a per-process stack; the top is the *active run*
that ``nbtrack.log`` and friends act on. A process started from a tracked
notebook (``!python train.py``) inherits the run through ``NBTRACK_RUN_ID`` and
``NBTRACK_HOME``, and logs into it as a guest that never ends it.

A plain script that exits with a run still open ends it ``completed`` (or
``failed`` / ``killed`` when an exception ended the script). A kernel that dies
leaves its runs to be read as ``crashed``.
"""

from __future__ import annotations

import atexit
import os
import sys
from collections.abc import Iterable, Mapping

from . import flushing, hooks
from .errors import InvalidNameError, NoActiveRunError, StoreError
from .ids import new_run_id
from .run import (
    HOME_ENV,
    RUN_ID_ENV,
    Run,
    _iter_tags,
    check_depth,
    check_tag,
    claim_name,
    cost_rate,
    current_user,
    flatten,
    redact,
    run_env,
)
from .store import index, liveness, records
from .store.layout import Layout, resolve

DEFAULT_EXPERIMENT = "default"

_stack: list[Run] = hooks.stack  # the open runs (capture reads them through hooks)
_lock = hooks.lock
_layouts: dict[str, Layout] = {}
_guest: list[Run] = []
_exit_status: list[tuple[str, str]] = []
_reproducing: dict = {}  # set by an exported notebook: the next run reproduces this one


def mark_reproduction(original_run_id: str, **details) -> None:
    """Make the next run this process starts a reproduction of ``original_run_id``.

    Until it starts, module-level calls with no active run (``nbtrack.log`` in an
    earlier cell that belonged to another run) do nothing instead of raising.
    """
    _reproducing.clear()
    _reproducing.update(details, of=original_run_id)


class _Discard:
    """Stands in for a run while a reproduction replays cells of other runs."""

    def __getattr__(self, name: str):
        return lambda *args, **kwargs: None


open_runs = hooks.open_runs  # runs this process started and has not ended, oldest first


def layout_for(store: str | os.PathLike | None = None, create: bool = True) -> Layout:
    """The store at ``store`` (default: discovered), its marker checked once per process.

    Writers (``create=True``) make it if it is missing; readers (``create=False``) raise
    :class:`~nbtrack.errors.StoreError` saying where it was looked for instead.
    """
    __tracebackhide__ = True  # noqa: F841 - IPython hides this frame from tracebacks
    path, origin = resolve(store)
    root = str(path)
    found = _layouts.get(root)
    if found is None:
        layout = Layout(root, create=False, origin=origin)
        if not create:
            layout.check_exists()  # never cached before it exists: a later writer makes it
            return layout
        layout.ensure()
        found = _layouts[root] = layout
    return found


def check_experiment(name: object) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > 200 or not name.isprintable():
        raise InvalidNameError(
            f"experiment name {name!r} must be a non-empty printable string of <= 200 chars"
        )
    return name.strip()


def start_run(
    experiment: str = DEFAULT_EXPERIMENT,
    name: str | None = None,
    tags: Iterable[str] | str | None = None,
    notes: str = "",
    params: Mapping | None = None,
    metadata: Mapping | None = None,
    store: str | os.PathLike | None = None,
    extra: Mapping | None = None,
    trace_files: bool | Mapping = False,
) -> Run:
    """Start a run and make it the active one.

    >>> with nbtrack.start_run("bert-ft", tags=["nlp"], params={"lr": 1e-3}) as run:
    ...     run.log({"loss": 0.3}, step=0)

    ``extra`` holds start-time records made by capture (environment, code identity).
    ``trace_files=True`` (or a dict of ``include``/``exclude`` glob lists) records
    the files the run's code opens, for lineage.
    """
    __tracebackhide__ = True  # noqa: F841 - IPython hides this frame
    experiment = check_experiment(experiment)
    tag_list = [check_tag(t) for t in _iter_tags((tags,))] if tags else []
    reproduces = dict(_reproducing)
    _reproducing.clear()
    if reproduces and "reproduction" not in tag_list:
        tag_list.append("reproduction")
    if params:
        check_depth(params, "params")
    if metadata:
        check_depth(metadata, "metadata")
    flat_params = redact(flatten(params), "params") if params else {}
    layout = layout_for(store)
    run_id = new_run_id()
    run_name = claim_name(layout, run_id, name)
    parent = active_run()
    started = _time()
    start = {
        "type": "start",
        "t": started,
        "run_id": run_id,
        "name": run_name,
        "experiment": experiment,
        "started": started,
        "user": current_user(),
        **liveness.identity(),
        "parent_run_id": parent.id if parent is not None else None,
        "cost_per_hour": cost_rate(layout),
        **_start_records(layout),
        **(dict(extra) if extra else {}),
    }
    if reproduces:
        start["reproduces"] = reproduces["of"]
        start["reproduction"] = reproduces
    events = [start]
    if tag_list:
        events.append({"type": "tags", "t": started, "add": tag_list})
    if flat_params:
        events.append({"type": "params", "t": started, "params": flat_params})
    if metadata:
        from .values import metadata_json

        events.append({"type": "metadata", "t": started,
                       "metadata": redact(metadata_json(metadata), "metadata")})
    if notes and notes.strip():
        events.append({"type": "note", "t": started, "text": redact(notes, "text")})
    records.write_records(layout.events_dir(run_id), events)
    run = Run(layout, run_id, run_name, experiment, owner=True)
    from .store import state  # with datetime and copy: imported at the first run

    index.write_row(layout, state.summary_row(state.fold(events), {}))
    with _lock:
        _stack.append(run)
        _export_env()
    flushing.register(run)
    _install_exit_hooks()
    if trace_files:
        from .capture import files

        options = dict(trace_files) if isinstance(trace_files, Mapping) else {}
        files.attach(run, **options)
    _capture_kernel_cells()
    hooks.run_started(run)
    return run


def _capture_kernel_cells() -> None:
    """In a kernel, runs record their cells even without ``%load_ext nbtrack``."""
    if "IPython" not in sys.modules:
        return
    from .capture import ipython

    shell = ipython.current_shell()
    if shell is not None and hasattr(shell, "events"):
        ipython.install(shell)


def _start_records(layout: Layout) -> dict:
    from .capture import context  # imported at the first run, not with nbtrack

    return context.start_records(layout)


def _time() -> float:
    import time

    return time.time()


def active_run() -> Run | None:
    """The run that module-level calls act on, or None.

    In a process started from a tracked run (``NBTRACK_RUN_ID`` set) this is that
    run, attached as a guest.
    """
    with _lock:
        if _stack:
            return _stack[-1]
        if _guest:
            return _guest[0]
    return _attach_from_env()


def _attach_from_env() -> Run | None:
    run_id = os.environ.get(RUN_ID_ENV)
    if not run_id:
        return None
    try:
        layout = layout_for(os.environ.get(HOME_ENV), create=False)
    except StoreError:
        return None  # the run's store is gone: nothing to attach to
    from .store import state

    st = state.load(layout, run_id)
    if st is None:
        return None
    run = Run(layout, run_id, st.get("name") or run_id, st.get("experiment") or "", owner=False)
    with _lock:
        if _guest:
            return _guest[0]
        _guest.append(run)
    flushing.register(run)
    return run


def forget(run: Run) -> None:
    """Remove an ended run from the stack (wherever it is)."""
    with _lock:
        if run in _stack:
            _stack.remove(run)
            _export_env()


hooks.on_run_end(forget)


_env_before: dict[str, str | None] = {}


def _export_env() -> None:
    """Point ``NBTRACK_RUN_ID``/``NBTRACK_HOME`` at the active run (callers hold ``_lock``),
    so ``!python train.py`` and ``subprocess.run`` log into it; restore them when no run
    is active."""
    if _stack:
        top = _stack[-1]
        for name, value in ((RUN_ID_ENV, top.id), (HOME_ENV, str(top.layout.root))):
            _env_before.setdefault(name, os.environ.get(name))
            os.environ[name] = value
        return
    for name, value in _env_before.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    _env_before.clear()


def require() -> Run:
    __tracebackhide__ = True  # noqa: F841 - IPython hides this frame
    run = active_run()
    if run is None and _reproducing:
        return _Discard()  # type: ignore[return-value]
    if run is None:
        raise NoActiveRunError(
            "no active run: start one with nbtrack.start_run(...) or %track start"
        )
    return run


def child_env(run: Run | None = None) -> dict[str, str]:
    """Environment variables that let a subprocess log into ``run``."""
    return run_env(run or require())


# ---------------------------------------------------------------- module-level twins
def log(metrics: Mapping[str, float] | None = None, step: int | None = None, **values: float):
    """Log to the active run: ``nbtrack.log(loss=0.3)`` or ``nbtrack.log({"loss": 0.3}, step=2)``."""
    __tracebackhide__ = True  # noqa: F841 - IPython hides this frame
    if values:
        metrics = {**(metrics or {}), **values}
    require().log(metrics if metrics is not None else {}, step=step)


def log_params(params: Mapping) -> None:
    __tracebackhide__ = True  # noqa: F841 - IPython hides this frame
    require().log_params(params)


def log_param(key: str, value: object) -> None:
    __tracebackhide__ = True  # noqa: F841 - IPython hides this frame
    require().log_param(key, value)


def log_metadata(metadata: Mapping) -> None:
    __tracebackhide__ = True  # noqa: F841 - IPython hides this frame
    require().log_metadata(metadata)


def add_tags(*tags: str) -> None:
    __tracebackhide__ = True  # noqa: F841 - IPython hides this frame
    require().add_tags(*tags)


def remove_tags(*tags: str) -> None:
    __tracebackhide__ = True  # noqa: F841 - IPython hides this frame
    require().remove_tags(*tags)


def note(text: str) -> None:
    __tracebackhide__ = True  # noqa: F841 - IPython hides this frame
    require().note(text)


def use_input(path, name: str | None = None, description: str | None = None):
    __tracebackhide__ = True  # noqa: F841 - IPython hides this frame
    return require().use_input(path, name=name, description=description)


def log_dataset(name: str, path, description: str = ""):
    __tracebackhide__ = True  # noqa: F841 - IPython hides this frame
    return require().log_dataset(name, path, description)


def log_artifact(path, artifact_path: str | None = None) -> str:
    __tracebackhide__ = True  # noqa: F841 - IPython hides this frame
    return require().log_artifact(path, artifact_path)


def log_artifacts(folder, artifact_path: str | None = None) -> list[str]:
    __tracebackhide__ = True  # noqa: F841 - IPython hides this frame
    return require().log_artifacts(folder, artifact_path)


def log_output(path) -> str:
    __tracebackhide__ = True  # noqa: F841 - IPython hides this frame
    return require().log_output(path)


def alert(condition: str, message: str | None = None, callback=None):
    """``run.alert`` on the active run: ``nbtrack.alert("val_loss > 2.0", message="diverging")``."""
    return require().alert(condition, message=message, callback=callback)


def sh(command: str):
    """Run a shell command as part of the active run (``%track sh``): its output is kept
    as an artifact, ``NBTRACK_TRACK_<KEY>`` variables it exports become metrics/params."""
    __tracebackhide__ = True  # noqa: F841 - IPython hides this frame
    from .capture.shell import run_tracked

    return run_tracked(command, require())


def end_run(status: str = "completed", message: str | None = None) -> None:
    """End the active run."""
    __tracebackhide__ = True  # noqa: F841 - IPython hides this frame
    require().end(status, message)


# ---------------------------------------------------------------- process exit
_hooks_installed = False


def _install_exit_hooks() -> None:
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    previous = sys.excepthook

    def excepthook(exc_type, exc, tb):
        if issubclass(exc_type, KeyboardInterrupt):
            _exit_status.append(("killed", "KeyboardInterrupt"))
        else:
            _exit_status.append(("failed", redact(f"{exc_type.__name__}: {exc}", "text")))
        previous(exc_type, exc, tb)

    sys.excepthook = excepthook
    atexit.register(_end_open_runs_at_exit)


def _in_kernel() -> bool:
    shell = sys.modules.get("IPython")
    get = getattr(shell, "get_ipython", None) if shell else None
    return bool(get and get() is not None)


def _end_open_runs_at_exit() -> None:
    """A script's open runs end with the script; a kernel's are left to read as crashed."""
    if _in_kernel():
        flushing.flush_all()
        return
    status, message = _exit_status[-1] if _exit_status else ("completed", None)
    for run in reversed(list(_stack)):
        try:
            run.end(status, message)
        except Exception:  # noqa: BLE001 - never turn exit into a traceback storm
            pass
