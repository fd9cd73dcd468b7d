"""The panels' JavaScript as shipped in the package: ``static/loader.js`` (every widget's
``_esm``, ~1.5 KB) and ``static/runtime.js`` (all panels, their CSS and libraries), built from
``js/`` by esbuild (``scripts/build_js.sh``) and sent to a page once over the widget comm;
``static/charts.js`` (vega) is sent the same way on a page's first chart, and
``static/live_loader.js`` carries the runtime for a live panel shown while a cell runs.

A checkout without a built bundle gets an error naming the command that builds it; a wheel
always contains it (``setup.py`` builds it when it is missing).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from ..errors import NbtrackError

STATIC = Path(__file__).parent / "static"
LOADER = STATIC / "loader.js"
RUNTIME = STATIC / "runtime.js"
MANIFEST = STATIC / "manifest.json"


class BundleMissingError(NbtrackError):
    """The panels' JavaScript was not built (a source checkout before ``scripts/build_js.sh``)."""


def _missing() -> BundleMissingError:
    return BundleMissingError(
        f"nbtrack's panel code is not built ({RUNTIME} is missing): run scripts/build_js.sh"
        " in the nbtrack checkout (needs Node.js and npm), or install nbtrack from a wheel"
    )


@lru_cache(maxsize=1)
def manifest() -> dict:
    try:
        return json.loads(MANIFEST.read_text())
    except (OSError, ValueError):
        raise _missing() from None


@lru_cache(maxsize=1)
def runtime_bytes() -> bytes:
    """The runtime module, checked against the sha256 the loader will ask for."""
    import hashlib

    try:
        code = RUNTIME.read_bytes()
    except OSError:
        raise _missing() from None
    if hashlib.sha256(code).hexdigest() != manifest()["runtime_sha256"]:
        raise BundleMissingError(f"{RUNTIME} does not match {MANIFEST}: rebuild with scripts/build_js.sh")
    return code


MODULES = {"charts": STATIC / "charts.js"}  # bundles fetched on first use (js/src/charts/modules.js)
LIVE_LOADER = STATIC / "live_loader.js"


@lru_cache(maxsize=4)
def module_bytes(name: str) -> bytes:
    """A bundle that only some panels need (``charts``: vega and vega-lite), checked against
    the sha256 the runtime was built to ask for."""
    import hashlib

    if name not in MODULES:
        raise KeyError(f"nbtrack has no module {name!r}")
    try:
        code = MODULES[name].read_bytes()
    except OSError:
        raise _missing() from None
    if hashlib.sha256(code).hexdigest() != manifest().get("modules", {}).get(name, {}).get("sha256"):
        raise BundleMissingError(f"{MODULES[name]} does not match {MANIFEST}: rebuild with scripts/build_js.sh")
    return code


@lru_cache(maxsize=1)
def live_esm() -> str:
    """The ``_esm`` of a panel that must draw while its kernel is busy (a live chart shown
    mid-cell): the live loader with the whole runtime inlined, so it needs no comm round trip."""
    import json

    try:
        loader = LIVE_LOADER.read_text()
    except OSError:
        raise _missing() from None
    return f"const __NBTRACK_RUNTIME_CODE__ = {json.dumps(runtime_bytes().decode())};\n{loader}"


def loader_path() -> Path:
    if not LOADER.is_file():
        raise _missing()
    return LOADER
