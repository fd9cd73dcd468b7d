"""The browser end of a panel's comm, for kernel-side panel tests (imported as
``from panel_wire import Wire, rows``): what the panel sends is captured in order, requests go
in as the JavaScript sends them."""

from __future__ import annotations

import io
import queue


class Wire:
    """``wire = Wire(panel)``; ``wire.ask(op, **args)`` -> (content, buffers) of the answer;
    ``wire.push()`` the next unasked message (a live update), waiting up to ``timeout``."""

    def __init__(self, panel):
        self.messages: queue.Queue = queue.Queue()
        panel.send = lambda content, buffers=None: self.messages.put((content, buffers or []))
        self.panel = panel
        self.n = 0

    def ask(self, op: str, **args):
        self.n += 1
        self.panel._receive(self.panel, {"type": "request", "id": f"r{self.n}", "op": op, **args}, [])
        content, buffers = self.messages.get_nowait()
        assert content["type"] == "response" and content["id"] == f"r{self.n}"
        return content, buffers

    def push(self, timeout: float = 20):
        return self.messages.get(timeout=timeout)


def rows(buffers):
    """The Arrow rows of an answer as a polars frame."""
    import polars as pl

    return pl.read_ipc_stream(io.BytesIO(buffers[0]))


def only_chart_images(page: str) -> int:
    """How many <img> tags ``page`` holds, each a PNG as a data URI (no other image)."""
    import base64
    import re

    tags = re.findall(r"<img[^>]*>", page)
    for tag in tags:
        found = re.fullmatch(r'<img alt="[^"<>]*" src="data:image/png;base64,([A-Za-z0-9+/=]+)">', tag)
        assert found, tag[:200]
        assert base64.b64decode(found.group(1)).startswith(b"\x89PNG\r\n\x1a\n")
    return len(tags)
