"""Record the shell commands a notebook runs: ``!cmd``, ``x = !cmd``, ``%pip``, ``%conda``.

IPython turns every one of these into a call of ``shell.system`` (``!cmd``,
``%pip``, ``%conda``, ``%uv`` all end there) or ``shell.getoutput``
(``x = !cmd``). Wrapping those two methods sees each command as it runs, with
its exit status (IPython leaves it in ``_exit_code``). Commands that change the
environment (package installs) also refresh the cached environment snapshot.
"""

from __future__ import annotations

import re
import threading
import time

from .. import hooks

ENV_CHANGING = re.compile(
    r"(^|[\s/;&|])(pip3?|uv|conda|mamba|micromamba|apt(-get)?|poetry|pipenv)(\s|$)"
    r"|-m\s+(pip|uv)\b"
)


def kind_of(command: str) -> str:
    if re.search(r"-m\s+pip\b|(^|[\s/])pip3?\s", command):
        return "pip"
    if re.search(r"(^|[\s/])(conda|mamba|micromamba)\s", command):
        return "conda"
    if re.search(r"-m\s+uv\b|(^|[\s/])uv\s", command):
        return "uv"
    return "shell"


def changes_environment(command: str) -> bool:
    return bool(ENV_CHANGING.search(command)) and bool(
        re.search(r"\b(install|uninstall|remove|update|upgrade|add|sync)\b", command)
    )


class CommandRecorder:
    """Wraps ``shell.system`` and ``shell.getoutput`` of one shell."""

    def __init__(self, shell):
        self.shell = shell
        self._orig_system = None
        self._orig_getoutput = None
        self._depth = threading.local()

    def register(self) -> None:
        if self._orig_system is not None:
            return
        self._orig_system = self.shell.system
        self._orig_getoutput = self.shell.getoutput
        self.shell.system = self._system
        self.shell.getoutput = self._getoutput

    def unregister(self) -> None:
        if self._orig_system is None:
            return
        self.shell.system = self._orig_system
        self.shell.getoutput = self._orig_getoutput
        self._orig_system = self._orig_getoutput = None

    def _system(self, cmd, *args, **kwargs):
        return self._call(self._orig_system, cmd, args, kwargs, exit_code=True)

    def _getoutput(self, cmd, *args, **kwargs):
        return self._call(self._orig_getoutput, cmd, args, kwargs, exit_code=False)

    def _call(self, original, cmd, args, kwargs, exit_code: bool):
        """Run the command; record it once even when one shell method calls the other."""
        if getattr(self._depth, "value", 0):
            return original(cmd, *args, **kwargs)
        self._depth.value = 1
        started = time.time()
        try:
            return original(cmd, *args, **kwargs)
        finally:
            self._depth.value = 0
            code = self.shell.user_ns.get("_exit_code") if exit_code else None
            self.record(str(cmd), started, code if isinstance(code, int) else None)

    def _current_count(self) -> int | None:
        raw = getattr(getattr(self.shell, "history_manager", None), "input_hist_raw", None)
        return len(raw) - 1 if raw else None

    def record(self, command: str, started: float, exit_status: int | None) -> None:
        from ..redaction import redact_text

        changes = changes_environment(command)
        if changes:
            from . import env

            env.invalidate()
        runs = [r for r in hooks.open_runs() if r.owner and not r.ended]
        if not runs:
            return
        fields = {
            "command": redact_text(command),
            "kind": kind_of(command),
            "changes_env": changes,
            "exit_status": exit_status,
            "started": started,
            "ended": time.time(),
            "execution_count": self._current_count(),
        }
        for run in runs:
            run._event("command", **fields)
