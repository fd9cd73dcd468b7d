"""The global random generators a cell advanced, and their state before it.

Cells that draw from a global generator (``random.random()``, ``np.random.normal``,
a ``train_test_split`` or an estimator with no seed, ``torch.randn``) change hidden
state that later cells depend on, and no name's binding shows it. The cell
recorder takes a :func:`snapshot` before each cell and compares it with one taken
after; for each generator that changed it keeps the state *before* the cell, so an
export can put that generator back exactly where it was when the cell ran (see
``nbtrack.repro.slicing``). Only generators whose module is already imported are
looked at (nothing here imports numpy or torch), and a state is encoded and kept
only for a cell that changed it: a cell that draws nothing costs two cheap reads.

Generators: Python's ``random`` module, numpy's legacy global ``RandomState``
(what ``np.random.*`` and scikit-learn's ``random_state=None`` draw from) and
torch's CPU default generator. Not covered: CUDA generators, generators made by
the user (``np.random.default_rng()``: those are objects, followed like any other).
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys

GENERATORS = ("random", "numpy", "torch")


def _python_state():
    mod = sys.modules.get("random")
    return mod.getstate() if mod is not None else None


class Snapshot(dict):
    """Generator states, and ``fresh``: those this very snapshot brought into being (their
    module imported just now to read them), which nothing can have drawn from yet."""

    fresh: frozenset = frozenset()


def _numpy_generator():
    mod = sys.modules.get("numpy.random")
    if mod is None and "numpy" in sys.modules:
        # numpy 2 imports numpy.random on first use, seeding it from the OS then: import it
        # now (once, a few ms) so the state before the first draw is seen. A draw would
        # have imported it: the generator made here is untouched (numpy itself may have
        # been imported by another thread during a cell, pyarrow by the flusher's warm-up)
        import numpy.random as mod
    mtrand = getattr(mod, "mtrand", None) if mod is not None else None
    return getattr(mtrand, "_rand", None)


def _numpy_state():
    gen = _numpy_generator()
    return gen.get_state(legacy=True) if gen is not None else None


def _torch_state():
    mod = sys.modules.get("torch")
    get = getattr(mod, "get_rng_state", None) if mod is not None else None
    return get() if get is not None else None


_READERS = {"random": _python_state, "numpy": _numpy_state, "torch": _torch_state}


def snapshot() -> Snapshot:
    """The current state of each imported global generator (never imports one's library;
    numpy's ``numpy.random`` is imported when numpy is, see :class:`Snapshot`)."""
    out = Snapshot()
    # numpy loaded but numpy.random not: nothing has drawn yet, the read below makes it
    made_here = "numpy" in sys.modules and "numpy.random" not in sys.modules
    for name, read in _READERS.items():
        try:
            state = read()
        except Exception:  # noqa: BLE001 - a broken generator must not break the cell
            state = None
        if state is not None:
            out[name] = state
    out.fresh = frozenset({"numpy"} if made_here else ())
    return out


def _same(name: str, a, b) -> bool:
    if name == "numpy":  # ('MT19937', key array, pos, has_gauss, cached_gaussian)
        return a[2] == b[2] and a[3] == b[3] and a[4] == b[4] and a[1].tobytes() == b[1].tobytes()
    if name == "torch":
        return bool(a.equal(b))
    return a == b


def changed(before: dict, after: dict) -> dict[str, object]:
    """``{generator: state before}`` for each generator the cell advanced or reseeded;
    the state is None when the generator was first imported during the cell."""
    out: dict[str, object] = {}
    fresh = getattr(after, "fresh", frozenset())
    for name, state in after.items():
        old = before.get(name)
        if old is None:
            if name not in fresh:  # made by the snapshot after the cell: never drawn from
                out[name] = None
        elif not _same(name, old, state):
            out[name] = old
    return out


def encode(name: str, state) -> bytes:
    """A JSON document holding one generator's state (restored by :func:`restore`)."""
    if name == "numpy":
        doc = {"generator": "numpy", "kind": state[0], "pos": int(state[2]),
               "has_gauss": int(state[3]), "gauss": float(state[4]),
               "key": base64.b64encode(state[1].astype("<u4").tobytes()).decode()}
    elif name == "torch":
        doc = {"generator": "torch", "state": base64.b64encode(bytes(state.numpy())).decode()}
    else:
        from array import array

        version, internal, gauss = state
        words = array("I", internal)  # 624 words of 32 bits and the position
        if sys.byteorder == "big":
            words.byteswap()
        doc = {"generator": "random", "version": version, "gauss": gauss,
               "state": base64.b64encode(words.tobytes()).decode()}
    return json.dumps(doc, separators=(",", ":")).encode()


def digest(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()


def restore(blob: bytes) -> str:
    """Put one global generator back in the state :func:`encode` wrote; its name."""
    doc = json.loads(blob)
    name = doc["generator"]
    if name == "numpy":
        import numpy as np

        key = np.frombuffer(base64.b64decode(doc["key"]), dtype="<u4").astype(np.uint32)
        np.random.set_state((doc["kind"], key, doc["pos"], doc["has_gauss"], doc["gauss"]))
    elif name == "torch":
        import torch

        raw = bytearray(base64.b64decode(doc["state"]))
        torch.set_rng_state(torch.frombuffer(raw, dtype=torch.uint8).clone())
    else:
        import random
        from array import array

        words = array("I", base64.b64decode(doc["state"]))
        if sys.byteorder == "big":
            words.byteswap()
        random.setstate((doc["version"], tuple(words), doc["gauss"]))
    return name
