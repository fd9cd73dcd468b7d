"""The base of every nbtrack panel: an anywidget whose traits hold only what a person sets,
and whose data travels on request over the widget comm.

The browser sends ``{"type": "request", "id", "op", ...}``; ``req_<op>(**args)`` answers with a
dict (sent as JSON) and optionally a polars frame (sent as Arrow IPC in the message's buffer)
or raw bytes. Errors go back as ``{"ok": false, "error": {...}}`` so the panel can show them —
a bad filter with its position. ``{"type": "runtime"}`` is answered with ``runtime.js``, once per
page, and ``{"type": "module", "name": "charts"}`` with that bundle (vega), on a page's first
chart. ``push(topic, ...)`` sends an unasked update (a live table while a cell is busy).

Each panel also renders without a widget manager: ``text/html`` and ``text/plain`` fallbacks
in its MIME bundle, for GitHub, nbviewer, plain IPython and notebooks saved without state.
"""

from __future__ import annotations

import logging

import anywidget
import traitlets

from ..errors import FilterError, NbtrackError
from . import bundle
from .wire import frame_bytes, jsonable

log = logging.getLogger("nbtrack.ui")


def _error(exc: BaseException) -> dict:
    info = {"message": str(exc), "kind": type(exc).__name__}
    if isinstance(exc, FilterError):
        info.update(expression=exc.expression, position=exc.position, field="where")
        info["message"] = str(exc).split("\n", 1)[0]
    return info


def in_kernel() -> bool:
    """Whether this process is a Jupyter kernel (a browser may show widgets), not a terminal
    IPython or a script: only then do panels keep a watcher thread."""
    import sys

    if "ipykernel" not in sys.modules:
        return False
    from IPython import get_ipython

    return getattr(get_ipython(), "kernel", None) is not None


class Panel(anywidget.AnyWidget):
    """An nbtrack panel. Subclasses set ``_panel`` (the JS renderer's name) and ``req_*``."""

    _panel = traitlets.Unicode("").tag(sync=True)

    @property
    def _esm(self) -> str:  # read once per widget by anywidget; tiny, see bundle.py
        return bundle.loader_path().read_text()

    def __init__(self, **kwargs):
        bundle.runtime_bytes()  # fail here, with the command that builds it, not in the browser
        super().__init__(**kwargs)
        self.on_msg(self._receive)

    # ------------------------------------------------------------------ the channel
    def _receive(self, _widget, content, _buffers) -> None:
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        if kind == "runtime":
            self.send({"type": "runtime", "id": content.get("id"), "ok": True}, [bundle.runtime_bytes()])
        elif kind == "module":  # a heavy renderer (charts: vega), once per page on first use
            name = str(content.get("name"))
            reply = {"type": "module", "id": content.get("id"), "name": name}
            try:
                self.send({**reply, "ok": True}, [bundle.module_bytes(name)])
            except (bundle.BundleMissingError, KeyError) as exc:
                self.send({**reply, "ok": False, "error": str(exc)})
        elif kind == "request":
            self._answer(content)

    def _answer(self, content: dict) -> None:
        op = content.get("op")
        args = {k: v for k, v in content.items() if k not in ("type", "id", "op")}
        handler = getattr(self, f"req_{op}", None) if isinstance(op, str) and op.isidentifier() else None
        reply: dict = {"type": "response", "id": content.get("id"), "op": op}
        buffers: list = []
        try:
            if handler is None:
                raise NbtrackError(f"this panel has no request {op!r}")
            meta, data = self._split(handler(**args))
            reply.update(ok=True, **jsonable(meta))
            buffers = self._buffers(data, reply)
        except (NbtrackError, ValueError, TypeError, KeyError, OSError) as exc:
            reply.update(ok=False, error=_error(exc))
        except Exception as exc:  # noqa: BLE001 - a panel bug must reach the person, not kill the comm
            log.exception("nbtrack panel request %r failed", op)
            reply.update(ok=False, error={"message": f"internal error: {exc!r}", "kind": type(exc).__name__})
        self.send(reply, buffers)

    @staticmethod
    def _split(result) -> tuple[dict, object]:
        if isinstance(result, tuple):
            return result[0] or {}, result[1]
        return result or {}, None

    @staticmethod
    def _buffers(data, reply: dict) -> list:
        if data is None:
            return []
        if isinstance(data, (bytes, bytearray, memoryview)):
            return [bytes(data)]
        reply["arrow"] = True
        return [frame_bytes(data)]

    def push(self, topic: str, meta: dict | None = None, data=None) -> None:
        """Send an unasked update; safe from the store watcher's thread."""
        message = {"type": "push", "topic": topic, **jsonable(meta or {})}
        try:
            self.send(message, self._buffers(data, message))
        except Exception:  # noqa: BLE001 - a closed comm or a dead kernel connection
            log.debug("nbtrack panel push %r not sent", topic, exc_info=True)

    # ------------------------------------------------------------------ without a widget manager
    def fallback_html(self) -> str:
        return "<p>nbtrack panel</p>"

    def fallback_text(self) -> str:
        return "nbtrack panel"

    def _repr_mimebundle_(self, **kwargs):
        bundle_ = super()._repr_mimebundle_(**kwargs)
        if bundle_ is None:
            return None
        data, metadata = bundle_
        data = dict(data, **{"text/plain": self.fallback_text(), "text/html": self.fallback_html()})
        return data, metadata

    def __repr__(self) -> str:
        return self.fallback_text()
