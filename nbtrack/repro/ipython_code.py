"""How a cell's IPython syntax is read: the Python IPython runs for it, line and
cell magics, and shell commands.

``to_python`` turns a cell into what IPython really executes (``%time x = f()``
becomes a ``run_line_magic`` call); ``IPythonCalls`` is the part of the cell walker
(``analysis``) that reads those calls: the magics whose argument is code are
analysed as code, known harmless ones are ignored, environment commands and the
files a shell command names are noted, and anything else makes the cell opaque.
"""

from __future__ import annotations

import ast
import re
import shlex
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .analysis import CellFacts

READS_ALL_MAGICS = frozenset({"who", "whos", "who_ls"})
CODE_LINE_MAGICS = {"time"}  # run their argument in the user namespace
USE_ONLY_LINE_MAGICS = {"timeit", "prun"}
CODE_CELL_MAGICS = {"time", "capture", "track", "timeit", "prun"}
HARMLESS_MAGICS = {
    "matplotlib", "config", "autoreload", "aimport", "pinfo", "pinfo2", "history", "pwd",
    "lsmagic", "magic", "page", "pdoc", "psource", "pdef", "precision",
    "xmode", "colors", "html", "markdown", "javascript", "js", "latex", "svg", "ls", "env_list",
}
ENV_MAGICS = {"pip", "conda", "uv", "mamba"}
READONLY_SHELL = {
    "ls", "pwd", "echo", "cat", "head", "tail", "nvidia-smi", "which", "env", "printenv", "df",
    "du", "free", "nproc", "date", "hostname", "uname", "whoami", "lscpu", "wc", "file", "stat",
    "true", "sleep",
}
PATH_LITERAL = re.compile(r"^[\w.\-~/]+\.[A-Za-z0-9]{1,8}$|^[\w.\-~]+/[\w.\-/]+$")


@lru_cache(maxsize=1)
def _transformer():
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager()


def to_python(source: str) -> str:
    """The Python IPython would execute for ``source``."""
    try:
        return _transformer().transform_cell(source)
    except Exception:  # noqa: BLE001 - malformed input: analyse it as plain text
        return source


def strip_options(line: str) -> str:
    words = line.split()
    while words and words[0].startswith("-"):
        words = words[2:] if words[0] in ("-n", "-r", "-o", "-p") else words[1:]
    return " ".join(words)


def norm_path(text: str) -> str:
    return "file:" + text.strip().lstrip("./")


def ipython_call(node: ast.AST):
    """``(method, [str args])`` for ``get_ipython().<method>('...', ...)``."""
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
        return None
    owner = node.func.value
    if not (isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name)
            and owner.func.id == "get_ipython"):
        return None
    args = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
    if len(args) != len(node.args):
        return node.func.attr, []
    return node.func.attr, args


class IPythonCalls:
    """Mixed into the cell walker, which provides ``f`` (the facts), ``use``, ``define``,
    ``expr``, ``merge``, ``inline(code)`` and ``nested_cell(code)``."""

    def magic(self, node: ast.AST) -> bool:
        """Handle ``get_ipython().run_line_magic(...)`` and friends; True if it was one."""
        call = ipython_call(node)
        if call is None:
            return False
        method, args = call
        if method == "run_line_magic":
            self.line_magic(args[0], args[1] if len(args) > 1 else "")
        elif method == "run_cell_magic":
            self.cell_magic(args[0], args[1] if len(args) > 1 else "", args[2] if len(args) > 2 else "")
        elif method in ("system", "getoutput"):
            self.shell(args[0] if args else "")
        else:
            self.f.opaque_why.append(f"get_ipython().{method}")
        return True

    def line_magic(self, name: str, line: str) -> None:
        self.f.magics.add(name)
        if name in READS_ALL_MAGICS:
            self.f.reads_all = True
        elif name in CODE_LINE_MAGICS:
            self.inline(line)
        elif name in USE_ONLY_LINE_MAGICS:
            saved = set(self.f.defs), set(self.bound)
            self.inline(strip_options(line))
            self.f.defs, self.bound = saved
        elif name in ("load_ext", "reload_ext"):
            self.f.extensions.update(line.split())
            if "nbtrack" in line.split():  # the extension puts `nbtrack` in the namespace
                self.define("nbtrack", "nbtrack")
        elif name == "track":
            self.track_words(line)
        elif name in ENV_MAGICS:
            self.f.env_commands.append(f"%{name} {line}")
        elif name == "cd":
            self.f.mutates.add("@cwd")
        elif name in ("env", "set_env"):
            self.f.mutates.add("@env")
        elif name in HARMLESS_MAGICS:
            pass
        else:  # %run, %store -r, %reset, unknown extensions' magics ...
            self.f.opaque_why.append(f"%{name}")

    def cell_magic(self, name: str, line: str, body: str) -> None:
        self.f.magics.add(name)
        if name == "capture" and line.split():
            target = [w for w in line.split() if not w.startswith("-")]
            if target:
                self.define(target[0])
        if name in CODE_CELL_MAGICS:
            self.merge(self.nested_cell(to_python(body)))
            if name == "track":
                self.f.magics.add("track")
        elif name in ("bash", "sh", "script", "system"):
            self.shell(body)
        elif name == "writefile":
            words = [w for w in line.split() if not w.startswith("-")]
            if words:
                self.f.paths.add(norm_path(words[0]))
        elif name in HARMLESS_MAGICS:
            pass
        else:
            self.f.opaque_why.append(f"%%{name}")

    def merge(self, inner: CellFacts) -> None:
        for n in inner.uses:
            self.use(n)
        for n in inner.mutates:
            self.mutate(n)
        for n in inner.defs:
            self.define(n, inner.origins.get(n))
        self.f.reads_all |= inner.reads_all
        self.f.sources += inner.sources
        self.f.deletes |= inner.deletes
        self.f.functions.update(inner.functions)
        self.f.carries.update(inner.carries)
        self.f.opaque_why += inner.opaque_why
        self.f.called |= inner.called
        self.f.env_commands += inner.env_commands
        self.f.shell_commands += inner.shell_commands
        self.f.paths |= inner.paths
        self.f.magics |= inner.magics
        self.f.extensions |= inner.extensions

    def track_words(self, line: str) -> None:
        """``%track params a b`` reads a and b; ``%track log k=v`` reads v if it is a name."""
        try:
            words = shlex.split(line)
        except ValueError:
            return
        if not words:
            return
        if words[0] == "params":
            for w in words[1:]:
                if w.isidentifier():
                    self.use(w)
        elif words[0] == "log":
            for w in words[1:]:
                _, _, value = w.partition("=")
                if value.isidentifier():
                    self.use(value)

    def shell(self, command: str) -> None:
        self.f.shell_commands.append(command)
        # IPython expands {expr} and $name from the user namespace
        for expr in re.findall(r"\{([^{}]+)\}", command):
            try:
                self.expr(ast.parse(expr, mode="eval").body)
            except SyntaxError:
                pass
        for name in re.findall(r"(?<!\$)\$([A-Za-z_]\w*)", command):
            self.use(name)
        try:
            words = shlex.split(command)
        except ValueError:
            words = command.split()
        program = words[0].rsplit("/", 1)[-1] if words else ""
        if re.search(r"\b(pip3?|conda|mamba|uv)\b.*\b(install|uninstall|remove|update|sync|add)\b",
                     command):
            self.f.env_commands.append(f"!{command}")
            return
        if program in READONLY_SHELL and not re.search(r">|\btee\b", command):
            return
        touched = {norm_path(w) for w in words[1:] if PATH_LITERAL.match(w)}
        if touched:
            self.f.paths |= touched
        else:
            self.f.opaque_why.append(f"!{command.strip()[:40]}")
