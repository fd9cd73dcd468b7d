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

The walker here handles statements; ``calls`` reads expressions and calls, and
``ipython_code`` IPython's magics and shell commands.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass, field

from .calls import (
    BUILTINS,
    PURE_FUNCS,
    STATELESS_MODULES,
    _ExprScan,
    _free_names,
    _params,
    _root,
    _target_names,
)
from .ipython_code import IPythonCalls, to_python
from .libraries import PURE_METHODS, VIEWS, is_object

__all__ = ["BUILTINS", "PURE_FUNCS", "STATELESS_MODULES", "CellFacts", "FunctionFacts",
           "analyse", "function_facts", "to_python"]

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


class _Module(IPythonCalls):
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


    # -- nested code (magics whose argument is code)
    def nested_cell(self, code: str) -> CellFacts:
        inner = CellFacts()
        _analyse_python(code, inner, dict(self.known))
        return inner

    def inline(self, code: str) -> None:
        self.merge(self.nested_cell(code))


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
