"""nbtrack's layers import downwards only: every import in the package (at the top of a
module or inside a function) is checked against one table, so a circle between layers
cannot come back dodged by an import inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

import nbtrack

PACKAGE = Path(nbtrack.__file__).parent

# Lowest first. A module may import its own layer and the layers below, never above.
# Each name is a module or sub-package of nbtrack ("__init__" is nbtrack itself).
LAYERS = (
    ("base", "errors ids values redaction tokens hooks"),  # no I/O; hooks: upward hand-offs
    ("store", "store"),  # the only code that touches stored files (local or s3://)
    ("run", "flushing run alerts conditions"),  # the write side: a run and its flusher
    ("query", "query"),  # the read side: the store as polars frames
    ("capture", "capture"),  # IPython events and the environment, handed to runs
    ("active", "active"),  # starting runs, the active run, module-level twins
    ("features", "edit maintenance repro tuning interop ui"),
    ("api", "api"),
    ("entry", "__init__ magics cli cli_ops"),  # the public surface and its shells
)
LAYER_OF = {name: i for i, (_, names) in enumerate(LAYERS) for name in names.split()}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def unit(module: str) -> str:
    """The table's name for ``nbtrack.x.y``: ``x`` (``__init__`` for nbtrack itself)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imports(source: str, module: str, is_package: bool) -> list[tuple[str, int]]:
    """Every nbtrack module ``source`` imports (anywhere in it), with its line."""
    package = module if is_package else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # ``from . import run`` names a module; ``from .run import Run`` names its module
            found += [(f"{target}.{a.name}" if not node.module else target, node.lineno)
                      for a in node.names]
    return [(name, line) for name, line in found if name.split(".")[0] == "nbtrack"]


def violations(source: str, module: str, is_package: bool = False) -> list[str]:
    here = LAYER_OF[unit(module)]
    out = []
    for target, line in imports(source, module, is_package):
        name = unit(target)
        if name not in LAYER_OF:  # ``from nbtrack import start_run``: the package itself
            name = "__init__"
        if LAYER_OF[name] > here:
            out.append(f"{module}:{line} imports {target} "
                       f"({LAYERS[here][0]} -> {LAYERS[LAYER_OF[name]][0]})")
    return out


def package_modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_module_has_a_layer():
    missing = {unit(module_name(p)) for p in package_modules()} - LAYER_OF.keys()
    assert not missing, f"add {sorted(missing)} to LAYERS in tests/test_layers.py"


def test_no_module_imports_from_a_higher_layer():
    found = []
    for path in package_modules():
        found += violations(path.read_text(encoding="utf-8"), module_name(path),
                            path.name == "__init__.py")
    assert not found, "imports point upwards:\n" + "\n".join(found)


def test_an_upward_import_inside_a_function_is_caught():
    source = "def end():\n    from .. import active\n    from ..ui.plot import show_live\n"
    found = violations(source, "nbtrack.capture.cells")
    assert found == [
        "nbtrack.capture.cells:2 imports nbtrack.active (capture -> active)",
        "nbtrack.capture.cells:3 imports nbtrack.ui.plot (capture -> features)",
    ]
    assert violations("from .query import state\n", "nbtrack.run") == [
        "nbtrack.run:1 imports nbtrack.query (run -> query)"]
    assert violations("from . import layout\nfrom ..errors import StoreError\n",
                      "nbtrack.store.gc") == []
    assert violations("import nbtrack\n", "nbtrack.active") == [
        "nbtrack.active:1 imports nbtrack (active -> entry)"]


# Above store/, only these modules open, stat, list, rename or copy files themselves, and
# only files that are not stored data; everything in the store goes through store/.
USER_FILES = {
    "nbtrack.capture.env": "installed packages' metadata, container markers",
    "nbtrack.capture.files": "tracing the files the user's code opens",
    "nbtrack.capture.git": "the user's repository",
    "nbtrack.capture.git_cache": "the user's repository",
    "nbtrack.repro.runtime": "an input restored into the user's working tree",
}
FILE_CALLS = {"os": {"listdir", "scandir", "stat", "lstat", "replace", "rename", "remove",
                     "unlink", "rmdir", "makedirs", "walk", "open"},
              "shutil": {"copy", "copyfile", "copy2", "copytree", "move", "rmtree"}}


def file_calls(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        fn = node.func
        if isinstance(fn, ast.Name) and fn.id == "open":
            found.append(f"{node.lineno}: open()")
        elif (isinstance(fn, ast.Attribute) and isinstance(fn.value, ast.Name)
              and fn.attr in FILE_CALLS.get(fn.value.id, ())):
            found.append(f"{node.lineno}: {fn.value.id}.{fn.attr}()")
    return found


def test_above_the_store_only_the_users_files_are_touched_directly():
    found = []
    for path in package_modules():
        module = module_name(path)
        if unit(module) == "store" or module in USER_FILES:
            continue
        found += [f"{module}:{call}" for call in file_calls(path.read_text(encoding="utf-8"))]
    assert not found, ("stored files are read and written through nbtrack.store "
                       "(files, atomic, objects, layout):\n" + "\n".join(found))
    assert file_calls("import os\nos.replace(a, b)\nwith open(p) as f: pass\n") == [
        "2: os.replace()", "3: open()"]
