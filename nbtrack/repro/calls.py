"""The expression side of the cell walker: the names an expression reads, and
what its calls may change (a receiver, the objects passed as arguments, a global
random generator), read with the library rules of ``libraries`` and what is known
of the user's own functions; plus the name helpers both sides share.
"""

from __future__ import annotations

import ast
import builtins
from typing import TYPE_CHECKING

from .ipython_code import PATH_LITERAL, norm_path
from .libraries import (
    PURE_BUILTINS,
    PURE_METHODS,
    changes_arguments,
    changes_receiver,
    rng_effect,
    uncontrolled_source,
)

if TYPE_CHECKING:
    from .analysis import FunctionFacts, _Module

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
        if isinstance(node.value, str) and PATH_LITERAL.match(node.value):
            self.m.f.paths.add(norm_path(node.value))

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
