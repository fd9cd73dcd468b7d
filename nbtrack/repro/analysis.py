"""What one cell reads, binds and may change, found statically.

A cell is first turned into plain Python by IPython's own transformers, so a
line magic (``%time x = f()``), a cell magic, ``!cmd`` or ``x = !cmd`` are
seen as the calls IPython really makes; the magics whose argument is code
(``%time``, ``%%time``, ``%%capture``, ``%%track`` ...) are analysed as code.

The analysis is conservative where it cannot know: a method call on a name, an
attribute or item assignment, ``x op= ...`` (``+=`` on an array changes it in
place), or passing a name to a function that is not known to leave its
arguments alone, all count as a *possible mutation* of that name; ``exec``,
``globals()``, ``from m import *``, ``%run`` and unknown magics make a cell
*opaque*, and ``globals()``, ``locals()``, ``vars()``, ``dir()`` and ``%whos`` make
it read every name. Calls resolved through an import to a well-known library are
read with that library's rules (``libraries``). A name the cell itself bound is
local: calling its methods changes only the new object, unless it was bound to
an alias of an older one (``ax = axes[0]``). Draws from and seeds of the global
random generators are the pseudo-names ``@rng:random``, ``@rng:numpy`` and
``@rng:torch``. What the kernel observed at run time (names actually bound, the
generators a cell advanced) refines all this later, in ``slicing``.
"""

from __future__ import annotations

import ast
import builtins
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from .libraries import (
    PURE_BUILTINS,
    PURE_METHODS,
    VIEWS,
    changes_arguments,
    changes_receiver,
    is_object,
    rng_effect,
    uncontrolled_source,
)

# names a fresh IPython kernel has before any cell runs
BUILTINS = frozenset(dir(builtins)) | {
    "display", "get_ipython", "__file__", "In", "Out", "exit", "quit", "_ih", "_oh", "_dh",
    "_", "__", "___", "_i", "_ii", "_iii",
}
PURE_FUNCS = PURE_BUILTINS
# modules known by name alone (when no import of them was recorded) to keep no state
STATELESS_MODULES = frozenset(
    "nbtrack math cmath json time statistics re itertools functools operator string textwrap "
    "hashlib base64 pathlib datetime decimal fractions pprint".split()
)
CONTAINER_METHODS = frozenset("append extend insert add update setdefault remove discard".split())
READS_ALL_FUNCS = frozenset({"globals", "locals", "vars", "dir"})
READS_ALL_MAGICS = frozenset({"who", "whos", "who_ls"})
CODE_LINE_MAGICS = {"time"}  # run their argument in the user namespace
USE_ONLY_LINE_MAGICS = {"timeit", "prun"}
CODE_CELL_MAGICS = {"time", "capture", "track", "timeit", "prun"}
HARMLESS_MAGICS = {
    "matplotlib", "config", "autoreload", "aimport", "pinfo", "pinfo2", "history", "pwd", "lsmagic", "magic", "page", "pdoc", "psource", "pdef", "precision",
    "xmode", "colors", "html", "markdown", "javascript", "js", "latex", "svg", "ls", "env_list",
}
ENV_MAGICS = {"pip", "conda", "uv", "mamba"}
READONLY_SHELL = {
    "ls", "pwd", "echo", "cat", "head", "tail", "nvidia-smi", "which", "env", "printenv", "df",
    "du", "free", "nproc", "date", "hostname", "uname", "whoami", "lscpu", "wc", "file", "stat",
    "true", "sleep",
}
_PATH_LITERAL = re.compile(r"^[\w.\-~/]+\.[A-Za-z0-9]{1,8}$|^[\w.\-~]+/[\w.\-/]+$")


@dataclass
class FunctionFacts:
    reads: set[str] = field(default_factory=set)  # free globals read when called
    assigns: set[str] = field(default_factory=set)  # globals rebound via `global`
    mutates: set[str] = field(default_factory=set)  # free globals possibly mutated
    params: list[str] = field(default_factory=list)  # positional parameters, in order
    mutated_params: set[str] | None = None  # parameters whose objects it may change (None: any)


@dataclass
class CellFacts:
    defs: set[str] = field(default_factory=set)
    uses: set[str] = field(default_factory=set)
    mutates: set[str] = field(default_factory=set)
    deletes: set[str] = field(default_factory=set)
    certain_defs: set[str] = field(default_factory=set)  # bound by every complete run of it
    called: set[str] = field(default_factory=set)  # names it calls (or calls methods of)
    # for each name it calls: the names it had bound before the first such call
    bound_at_call: dict[str, frozenset[str]] = field(default_factory=dict)
    functions: dict[str, FunctionFacts] = field(default_factory=dict)
    carries: dict[str, set[str]] = field(default_factory=dict)  # name -> callables it may run
    opaque_why: list[str] = field(default_factory=list)  # what makes it opaque (exec, %run)
    reads_all: bool = False  # globals(), vars(), dir(), %whos: every live name is read
    origins: dict[str, str | None] = field(default_factory=dict)  # name -> library origin
    sources: list[str] = field(default_factory=list)  # uncontrolled values it reads
    env_commands: list[str] = field(default_factory=list)
    shell_commands: list[str] = field(default_factory=list)
    paths: set[str] = field(default_factory=set)
    magics: set[str] = field(default_factory=set)
    extensions: set[str] = field(default_factory=set)
    syntax_error: bool = False

    @property
    def opaque(self) -> bool:
        """Whether the cell may change names no analysis can see (exec, %run, import *)."""
        return bool(self.opaque_why)


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


def analyse(source: str, known: Mapping[str, str] | None = None,
            functions: Mapping[str, FunctionFacts] | None = None) -> CellFacts:
    """What ``source`` reads, binds and may change. ``known`` maps names bound before
    it to their origins (``{"np": "numpy"}``), so calls resolve to library rules;
    ``functions`` are the user functions defined before it, so a call changes only
    the arguments the function may change."""
    facts = CellFacts()
    _analyse_python(to_python(source), facts, dict(known or {}), functions)
    return facts


def _analyse_python(code: str, facts: CellFacts, known: dict[str, str],
                    functions: Mapping[str, FunctionFacts] | None = None) -> None:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        facts.syntax_error = True
        facts.opaque_why.append("a syntax error")
        return
    _Module(facts, known, functions).visit_body(tree.body)


def _root(node: ast.AST) -> str | None:
    """``a`` for ``a``, ``a.b.c``, ``a[1].b`` and ``a.b(x).c``."""
    while True:
        if isinstance(node, ast.Name):
            return node.id
        if isinstance(node, (ast.Attribute, ast.Subscript)):
            node = node.value
        elif isinstance(node, ast.Call):
            node = node.func
        else:
            return None


def _target_names(target: ast.AST, out: list[str], mutated: list[str]) -> None:
    if isinstance(target, ast.Name):
        out.append(target.id)
    elif isinstance(target, (ast.Tuple, ast.List)):
        for elt in target.elts:
            _target_names(elt, out, mutated)
    elif isinstance(target, ast.Starred):
        _target_names(target.value, out, mutated)
    elif isinstance(target, (ast.Attribute, ast.Subscript)):
        root = _root(target)
        if root:
            mutated.append(root)


def _names_in(target: ast.AST) -> list[str]:
    names: list[str] = []
    _target_names(target, names, [])
    return names


def _name_node(target: ast.AST, name: str) -> ast.AST | None:
    """The element of a tuple target that binds ``name`` (for ``a, b = x, y``)."""
    if isinstance(target, (ast.Tuple, ast.List)):
        for elt in target.elts:
            if isinstance(elt, ast.Name) and elt.id == name:
                return elt
    return None


class _Module:
    """Walks top-level statements in order, tracking what the cell bound so far."""

    def __init__(self, facts: CellFacts, known: dict[str, str],
                 functions: Mapping[str, FunctionFacts] | None = None):
        self.f = facts
        self.known = known  # name -> origin, as bound so far (imports and library objects)
        self.functions = dict(functions or {})  # user functions defined before, by name
        self.bound: set[str] = set()
        self.alias: dict[str, set[str]] = {}  # local name -> names whose objects it may share
        self.depth = 0  # > 0 inside a branch, loop, try or with body

    # -- helpers
    def use(self, name: str) -> None:
        if name not in self.bound and name not in BUILTINS:
            self.f.uses.add(name)

    def define(self, name: str, origin: str | None = None, alias: set[str] | None = None) -> None:
        self.functions.pop(name, None)
        self.f.defs.add(name)
        if self.depth == 0:
            self.f.certain_defs.add(name)
        self.bound.add(name)
        self.f.deletes.discard(name)
        if origin:
            self.known[name] = origin
        else:
            self.known.pop(name, None)
        self.f.origins[name] = origin
        if alias:
            self.alias[name] = set(alias) - {name}
        else:
            self.alias.pop(name, None)

    def mutate(self, name: str, _seen: set[str] | None = None) -> None:
        """The object ``name`` refers to may change. A name this cell bound holds a new
        object (nothing earlier changes), unless it may alias an older one."""
        if name in self.bound:
            seen = _seen if _seen is not None else set()
            if name in seen:
                return
            seen.add(name)
            for other in self.alias.get(name, ()):
                self.mutate(other, seen)
            return
        self.use(name)
        self.f.mutates.add(name)

    def rng(self, generator: str, effect: str) -> None:
        name = f"@rng:{generator}"
        if effect == "seed":
            self.define(name)
        else:
            self.mutate(name)

    def origin(self, node: ast.AST | None) -> str | None:
        """The library origin of an expression's value, when it comes from one."""
        if isinstance(node, ast.Name):
            return self.known.get(node.id)
        if isinstance(node, ast.Attribute):
            base = self.origin(node.value)
            return f"{base}.{node.attr}" if base else None
        if isinstance(node, ast.Call):
            base = self.origin(node.func)
            return f"{base}()" if base else None
        if isinstance(node, ast.Subscript):
            base = self.origin(node.value)
            return f"{base}[]" if base else None
        if isinstance(node, ast.BinOp):
            return self.origin(node.left) or self.origin(node.right)
        return None

    def aliases(self, node: ast.AST | None) -> set[str]:
        """Names whose objects the value of ``node`` may share (a view, the same object)."""
        if isinstance(node, ast.Name):
            return {node.id}
        if isinstance(node, (ast.Attribute, ast.Subscript)):  # a part of what it is taken from
            return self.aliases(node.value)
        if isinstance(node, (ast.Tuple, ast.List)):
            return set().union(*(self.aliases(e) for e in node.elts)) if node.elts else set()
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and not isinstance(func.value, ast.Call):
                base = self.origin(func.value)
                if base is None or is_object(base):  # obj.method() may return obj or a part
                    root = _root(func.value)
                    return {root} if root else set()
            if self.origin(func) in VIEWS:
                return {r for a in node.args if (r := _root(a))}
        return set()

    def bind_targets(self, targets: list[ast.AST], value: ast.AST | None,
                     callees: set[str] | None = None) -> None:
        names: list[str] = []
        mutated: list[str] = []
        for t in targets:
            if isinstance(t, (ast.Attribute, ast.Subscript)):
                self.expr(t.value)
                if isinstance(t, ast.Subscript):
                    self.expr(t.slice)
            _target_names(t, names, mutated)
        for m in mutated:
            self.mutate(m)
        origin = self.origin(value)
        alias = self.aliases(value)
        elts = None
        if (len(targets) == 1 and isinstance(targets[0], (ast.Tuple, ast.List))
                and isinstance(value, (ast.Tuple, ast.List))
                and len(targets[0].elts) == len(value.elts)):
            elts = dict(zip(targets[0].elts, value.elts, strict=True))
        for t in targets:
            for n in _names_in(t):
                v = elts.get(_name_node(t, n)) if elts else None
                if v is not None:
                    self.define(n, self.origin(v), self.aliases(v))
                else:
                    self.define(n, origin, alias)
                if callees:
                    self.f.carries[n] = set(callees)

    def expr(self, node: ast.AST | None) -> set[str]:
        """Record the names ``node`` reads and calls; returns the callables it may run."""
        if node is None:
            return set()
        scan = _ExprScan(self)
        scan.visit(node)
        return scan.callees

    def visit_body(self, body: list[ast.stmt]) -> None:
        for stmt in body:
            self.stmt(stmt)

    def nested(self, body: list[ast.stmt]) -> None:
        """A body that may run zero times or stop early: its bindings are not certain."""
        self.depth += 1
        try:
            self.visit_body(body)
        finally:
            self.depth -= 1

    # -- statements
    def stmt(self, s: ast.stmt) -> None:
        if isinstance(s, (ast.Assign, ast.AnnAssign)):
            value = s.value
            callees = self.expr(value)
            targets = s.targets if isinstance(s, ast.Assign) else [s.target]
            if value is None:  # a bare annotation binds nothing
                return
            self.bind_targets(targets, value, callees)
        elif isinstance(s, ast.AugAssign):
            self.expr(s.value)
            if isinstance(s.target, ast.Name):
                # ``y += noise`` on an array changes y's object in place (its id stays)
                name = s.target.id
                local = name in self.bound
                self.mutate(name)
                self.f.defs.add(name)
                if not local:
                    self.known.pop(name, None)
            else:
                root = _root(s.target)
                self.expr(s.target)
                if root:
                    self.mutate(root)
        elif isinstance(s, (ast.Import, ast.ImportFrom)):
            for alias in s.names:
                if alias.name == "*":
                    self.f.opaque_why.append(f"from {s.module} import *")
                    continue
                if isinstance(s, ast.Import):
                    origin = alias.name if alias.asname else alias.name.split(".")[0]
                    self.define(alias.asname or alias.name.split(".")[0], origin)
                elif s.level:  # relative import: not a library we know
                    self.define(alias.asname or alias.name)
                else:
                    self.define(alias.asname or alias.name, f"{s.module}.{alias.name}")
        elif isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for dec in s.decorator_list:
                self.expr(dec)
            if isinstance(s, ast.ClassDef):
                for base in [*s.bases, *(k.value for k in s.keywords)]:
                    self.expr(base)
            else:
                for default in [*s.args.defaults, *s.args.kw_defaults]:
                    self.expr(default)
            summary = function_facts(s, self.known)
            self.f.functions[s.name] = summary
            self.define(s.name)
            if not isinstance(s, ast.ClassDef) and not s.decorator_list:
                self.functions[s.name] = summary
            self.f.carries[s.name] = {s.name}
            # a class body runs now: what it reads at definition time is a use
            if isinstance(s, ast.ClassDef):
                for name in _class_body_reads(s):
                    self.use(name)
        elif isinstance(s, (ast.For, ast.AsyncFor)):
            self.expr(s.iter)
            names: list[str] = []
            mutated: list[str] = []
            _target_names(s.target, names, mutated)
            for m in mutated:
                self.mutate(m)
            base = self.origin(s.iter)
            self.depth += 1  # an empty loop binds nothing
            for n in names:  # each item may be part of what is iterated
                self.define(n, f"{base}[]" if base else None, self.aliases(s.iter))
            self.depth -= 1
            self.nested(s.body)
            self.nested(s.orelse)
        elif isinstance(s, (ast.While, ast.If)):
            self.expr(s.test)
            self.nested(s.body)
            self.nested(s.orelse)
        elif isinstance(s, (ast.With, ast.AsyncWith)):
            for item in s.items:
                self.expr(item.context_expr)
                if item.optional_vars is not None:
                    names, mutated = [], []
                    _target_names(item.optional_vars, names, mutated)
                    for n in names:
                        self.define(n)
            self.nested(s.body)
        elif isinstance(s, ast.Try) or type(s).__name__ == "TryStar":
            self.nested(s.body)
            for h in s.handlers:
                self.expr(h.type)
                if h.name:
                    self.bound.add(h.name)
                self.nested(h.body)
            self.nested(s.orelse)
            self.nested(s.finalbody)
        elif isinstance(s, ast.Delete):
            for t in s.targets:
                if isinstance(t, ast.Name):
                    self.use(t.id)
                    self.f.deletes.add(t.id)
                    self.bound.discard(t.id)
                else:
                    root = _root(t)
                    self.expr(t)
                    if root:
                        self.mutate(root)
        elif isinstance(s, ast.Expr):
            if not self.magic(s.value):
                self.expr(s.value)
        elif isinstance(s, (ast.Return, ast.Raise, ast.Assert)):
            for child in ast.iter_child_nodes(s):
                self.expr(child)
        elif isinstance(s, ast.Global):
            pass
        elif type(s).__name__ == "Match":
            self.expr(s.subject)  # type: ignore[attr-defined]
            for case in s.cases:  # type: ignore[attr-defined]
                for n in ast.walk(case.pattern):
                    if isinstance(n, (ast.MatchAs, ast.MatchStar)) and n.name:
                        self.define(n.name)
                self.nested(case.body)
        else:
            for child in ast.iter_child_nodes(s):
                if isinstance(child, ast.expr):
                    self.expr(child)

    # -- IPython's calls
    def magic(self, node: ast.AST) -> bool:
        """Handle ``get_ipython().run_line_magic(...)`` and friends; True if it was one."""
        call = _ipython_call(node)
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
            _Module_inline(self, line)
        elif name in USE_ONLY_LINE_MAGICS:
            saved = set(self.f.defs), set(self.bound)
            _Module_inline(self, _strip_options(line))
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
            inner = CellFacts()
            _analyse_python(to_python(body), inner, dict(self.known))
            self.merge(inner)
            if name == "track":
                self.f.magics.add("track")
        elif name in ("bash", "sh", "script", "system"):
            self.shell(body)
        elif name == "writefile":
            words = [w for w in line.split() if not w.startswith("-")]
            if words:
                self.f.paths.add(_norm_path(words[0]))
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
        touched = {_norm_path(w) for w in words[1:] if _PATH_LITERAL.match(w)}
        if touched:
            self.f.paths |= touched
        else:
            self.f.opaque_why.append(f"!{command.strip()[:40]}")


def _Module_inline(module: _Module, code: str) -> None:  # noqa: N802 - reads as a verb here
    inner = CellFacts()
    _analyse_python(code, inner, dict(module.known))
    module.merge(inner)


def _strip_options(line: str) -> str:
    words = line.split()
    while words and words[0].startswith("-"):
        words = words[2:] if words[0] in ("-n", "-r", "-o", "-p") else words[1:]
    return " ".join(words)


def _norm_path(text: str) -> str:
    return "file:" + text.strip().lstrip("./")


def _ipython_call(node: ast.AST):
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


class _ExprScan(ast.NodeVisitor):
    """Names an expression reads, mutations its calls may make, callables it runs."""

    def __init__(self, module: _Module):
        self.m = module
        self.callees: set[str] = set()
        self.shadow: list[set[str]] = []  # names local to an enclosing lambda/comprehension

    def _shadowed(self, name: str) -> bool:
        return any(name in frame for frame in self.shadow)

    def visit_Name(self, node: ast.Name) -> None:
        if self._shadowed(node.id):
            return
        if isinstance(node.ctx, ast.Load):
            self.m.use(node.id)
        elif isinstance(node.ctx, ast.Store):  # walrus target
            self.m.define(node.id)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and _PATH_LITERAL.match(node.value):
            self.m.f.paths.add(_norm_path(node.value))

    def visit_Call(self, node: ast.Call) -> None:
        if self.m.magic(node):
            return
        func = node.func
        qual = self.m.origin(func)
        args_safe = False
        if qual is not None:
            effect = rng_effect(qual, node)
            if effect:
                self.m.rng(*effect)
            source = uncontrolled_source(qual, node)
            if source:
                self.m.f.sources.append(source)
        if isinstance(func, ast.Name):
            self.callees.add(func.id)
            self.m.f.called.add(func.id)
            self.m.f.bound_at_call.setdefault(func.id, frozenset(self.m.bound))
            user = self.m.functions.get(func.id) if not self._shadowed(func.id) else None
            if user is not None and user.mutated_params is not None:
                args_safe = True
                self._user_call(node, user)
            elif func.id in self.m.known or self._shadowed(func.id):
                args_safe = not changes_arguments(qual, node)
            else:
                args_safe = func.id in PURE_FUNCS
                if func.id in READS_ALL_FUNCS and not node.args:
                    self.m.f.reads_all = True
                if func.id in ("exec", "eval", "globals", "locals", "setattr", "delattr",
                               "__import__"):
                    self.m.f.opaque_why.append(func.id)
        elif isinstance(func, ast.Attribute):
            root = _root(func)
            if root:
                self.callees.add(root)
                self.m.f.called.add(root)
                self.m.f.bound_at_call.setdefault(root, frozenset(self.m.bound))
            base = self.m.origin(func.value)
            if base is not None:
                receiver_changes = changes_receiver(base, func.attr, node)
                args_safe = not changes_arguments(qual, node)
            else:
                inplace = any(k.arg == "inplace" and not (isinstance(k.value, ast.Constant)
                                                          and k.value.value is False)
                              for k in node.keywords)
                receiver_changes = func.attr not in PURE_METHODS or inplace
                # list/set/dict methods store their arguments, they do not change them
                args_safe = not receiver_changes or func.attr in CONTAINER_METHODS
                if root in STATELESS_MODULES and root not in self.m.bound:
                    receiver_changes = False
            if isinstance(func.value, ast.Call):  # a temporary receiver
                receiver_changes = False
            if root and receiver_changes and not self._shadowed(root):
                self.m.mutate(root)
        if not args_safe:
            for arg in [*node.args, *(k.value for k in node.keywords)]:
                if isinstance(arg, ast.Starred):
                    arg = arg.value
                root = _root(arg) if isinstance(arg, (ast.Name, ast.Attribute, ast.Subscript)) else None
                if root and not self._shadowed(root):
                    self.m.mutate(root)
        self.generic_visit(node)

    def _user_call(self, node: ast.Call, fn: FunctionFacts) -> None:
        """A call of a user function: only the arguments it may change are mutated."""
        changed = fn.mutated_params or set()
        pairs = []
        for i, arg in enumerate(node.args):
            if isinstance(arg, ast.Starred) or i >= len(fn.params):
                pairs.append((arg.value if isinstance(arg, ast.Starred) else arg, True))
            else:
                pairs.append((arg, fn.params[i] in changed))
        for k in node.keywords:
            pairs.append((k.value, k.arg is None or k.arg in changed or k.arg not in fn.params))
        for arg, mutated in pairs:
            root = _root(arg) if isinstance(arg, (ast.Name, ast.Attribute, ast.Subscript)) else None
            if mutated and root and not self._shadowed(root):
                self.m.mutate(root)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        for name in _free_names(node, _params(node.args)):
            self.callees.add(name)  # what it reads, it reads when called
        self.shadow.append(_params(node.args))
        self.generic_visit(node)
        self.shadow.pop()

    def _comprehension(self, node) -> None:
        bound: set[str] = set()
        for gen in node.generators:
            names, mutated = [], []
            _target_names(gen.target, names, mutated)
            bound.update(names)
        self.shadow.append(bound)
        self.generic_visit(node)
        self.shadow.pop()

    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = _comprehension


def _params(args: ast.arguments) -> set[str]:
    names = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
    if args.vararg:
        names.add(args.vararg.arg)
    if args.kwarg:
        names.add(args.kwarg.arg)
    return names


def _free_names(node: ast.AST, bound: set[str]) -> set[str]:
    """Names read in ``node`` that are neither bound inside it nor builtins."""
    local = set(bound)
    loads: set[str] = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Name):
            (loads if isinstance(n.ctx, ast.Load) else local).add(n.id)
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            local.add(n.name)
        elif isinstance(n, ast.arg):
            local.add(n.arg)
        elif isinstance(n, (ast.Import, ast.ImportFrom)):
            for a in n.names:
                local.add(a.asname or a.name.split(".")[0])
        elif isinstance(n, ast.ExceptHandler) and n.name:
            local.add(n.name)
    return {n for n in loads - local if n not in BUILTINS}


def function_facts(node, known: Mapping[str, str] | None = None) -> FunctionFacts:
    """What a function (or a class's methods) touches in the global namespace when run,
    and which of a function's parameters it may change (walked like a cell, with the
    libraries ``known`` when it was defined)."""
    facts = FunctionFacts()
    if not isinstance(node, ast.ClassDef):
        args = node.args
        facts.params = [a.arg for a in [*args.posonlyargs, *args.args]]
        inner = CellFacts()
        body = _Module(inner, {k: v for k, v in (known or {}).items()
                               if k not in _params(args)})
        body.functions = {}
        body.visit_body(node.body)
        if not inner.opaque:
            facts.mutated_params = inner.mutates & _params(args)
    declared: set[str] = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Global):
            declared.update(n.names)
    bound = _params(node.args) if not isinstance(node, ast.ClassDef) else set()
    free = _free_names(node, bound)
    facts.reads = (free | declared) - {node.name}
    for n in ast.walk(node):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store) and n.id in declared:
            facts.assigns.add(n.id)
        elif isinstance(n, (ast.Attribute, ast.Subscript)) and isinstance(n.ctx, (ast.Store, ast.Del)):
            root = _root(n)
            if root in free:
                facts.mutates.add(root)
        elif isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute):
            root = _root(n.func)
            if root in free and n.func.attr not in PURE_METHODS:
                facts.mutates.add(root)
    return facts


def _class_body_reads(node: ast.ClassDef) -> set[str]:
    reads: set[str] = set()
    for stmt in node.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        reads |= _free_names(stmt, set())
    return reads
