"""The alert condition language: comparisons and arithmetic over metric names.

The same kind of small grammar as ``where=`` (:mod:`nbtrack.tokens` tokenizes both), never
``eval``: every mistake is a :class:`~nbtrack.errors.ConditionError` pointing at
the offending character, so ``__import__('os')`` is refused at position 0::

    cond     := or
    or       := and ("or" and)*
    and      := not ("and" not)*
    not      := "not" not | compare
    compare  := sum [op sum]            op: == != < <= > >=  (a bare sum is refused)
    sum      := product (("+" | "-") product)*
    product  := unary (("*" | "/") unary)*
    unary    := "-" unary | atom
    atom     := number | name | func "(" sum ("," sum)* ")" | "(" cond ")"
    func     := abs | min | max
    name     := word ("." word)* | `back quoted`

A name is a metric key (``val_loss``, ``train/loss``, ``val-acc``; a leading
``metrics.`` is dropped). Subtraction needs spaces (``a - b``): ``a-b`` names a
metric. A metric that has not been logged yet makes every comparison using it
false; so does NaN. Division by zero gives NaN.
"""

from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass

from .errors import ConditionError
from .tokens import Cursor

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<number>(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![A-Za-z_]))
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<quoted>`[^`]+`)
  | (?P<op>==|!=|<=|>=|=|<|>)
  | (?P<arith>[-+*/])
  | (?P<punct>[().,])
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*(?:[-/:@][A-Za-z_][A-Za-z0-9_]*)*)
    """,
    re.VERBOSE,
)
KEYWORDS = {"and", "or", "not"}
COMPARE = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt,
    "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}
ARITH = {"+": operator.add, "-": operator.sub, "*": operator.mul}
FUNCS = {"abs": (abs, 1, 1), "min": (min, 1, None), "max": (max, 1, None)}
NAN = math.nan


@dataclass
class _Node:
    kind: str  # num, name, neg, arith, cmp, and, or, not, call
    pos: int
    value: object = None  # number, metric key, operator or function name
    args: tuple = ()

    @property
    def boolean(self) -> bool:
        return self.kind in ("cmp", "and", "or", "not")


class _Parser(Cursor):
    def __init__(self, text: str):
        super().__init__(text, _TOKEN, KEYWORDS, ConditionError)

    def at(self, kind: str, text: str | None = None) -> bool:
        tok = self.peek()
        return tok.kind == kind and (text is None or tok.text == text)

    def error(self, message: str, pos: int | None = None) -> ConditionError:
        return ConditionError(message, self.text, self.peek().pos if pos is None else pos)

    def parse(self) -> _Node:
        if self.at("end"):
            raise self.error("empty condition")
        node = self.boolean(self.parse_or())
        if not self.at("end"):
            raise self.error(f"expected 'and', 'or' or the end, found {self.peek().text!r}")
        return node

    def boolean(self, node: _Node) -> _Node:
        if not node.boolean:
            raise self.error("this is a number, not a condition: compare it, e.g. val_loss > 2.0",
                             node.pos)
        return node

    def number(self, node: _Node) -> _Node:
        if node.boolean:
            raise self.error("a condition cannot be used as a number here", node.pos)
        return node

    def parse_or(self) -> _Node:
        node = self.parse_and()
        while self.at("kw", "or"):
            self.take()
            node = _Node("or", node.pos, args=(self.boolean(node), self.boolean(self.parse_and())))
        return node

    def parse_and(self) -> _Node:
        node = self.parse_not()
        while self.at("kw", "and"):
            self.take()
            node = _Node("and", node.pos, args=(self.boolean(node), self.boolean(self.parse_not())))
        return node

    def parse_not(self) -> _Node:
        if self.at("kw", "not"):
            pos = self.take().pos
            return _Node("not", pos, args=(self.boolean(self.parse_not()),))
        return self.parse_compare()

    def parse_compare(self) -> _Node:
        left = self.parse_sum()
        if not self.at("op"):
            return left
        tok = self.take()
        op = "==" if tok.text == "=" else tok.text
        right = self.parse_sum()
        if self.at("op"):
            raise self.error("one comparison at a time: join them with 'and'")
        return _Node("cmp", left.pos, op, (self.number(left), self.number(right)))

    def parse_sum(self) -> _Node:
        node = self.parse_product()
        while self.at("arith", "+") or self.at("arith", "-"):
            tok = self.take()
            node = _Node("arith", node.pos, tok.text,
                         (self.number(node), self.number(self.parse_product())))
        return node

    def parse_product(self) -> _Node:
        node = self.parse_unary()
        while self.at("arith", "*") or self.at("arith", "/"):
            tok = self.take()
            node = _Node("arith", node.pos, tok.text,
                         (self.number(node), self.number(self.parse_unary())))
        return node

    def parse_unary(self) -> _Node:
        if self.at("arith", "-") or self.at("arith", "+"):
            tok = self.take()
            arg = self.number(self.parse_unary())
            return arg if tok.text == "+" else _Node("neg", tok.pos, args=(arg,))
        return self.parse_atom()

    def parse_atom(self) -> _Node:
        tok = self.peek()
        if tok.kind == "number":
            self.take()
            return _Node("num", tok.pos, float(tok.text))
        if tok.kind == "punct" and tok.text == "(":
            self.take()
            node = self.parse_or()
            if not self.at("punct", ")"):
                raise self.error("expected ')'")
            self.take()
            node.pos = tok.pos  # errors about the group point at its '('
            return node
        if tok.kind in ("word", "quoted"):
            if tok.kind == "word" and self.toks[self.i + 1].text == "(":
                return self.parse_call()
            return self.parse_name()
        if tok.kind == "string":
            raise self.error("text has no place in a metric condition: metrics are numbers")
        raise self.error(f"expected a metric name or a number, found {tok.text or 'the end'!r}")

    def parse_call(self) -> _Node:
        tok = self.take()
        if tok.text not in FUNCS:
            raise self.error(
                f"unknown function {tok.text!r}: only {', '.join(sorted(FUNCS))} are allowed",
                tok.pos,
            )
        self.take()  # "("
        args = [self.number(self.parse_sum())]
        while self.at("punct", ","):
            self.take()
            args.append(self.number(self.parse_sum()))
        if not self.at("punct", ")"):
            raise self.error("expected ',' or ')'")
        self.take()
        _, least, most = FUNCS[tok.text]
        if len(args) < least or (most is not None and len(args) > most):
            raise self.error(f"{tok.text}() takes {least if most == least else 'one or more'} "
                             "argument" + ("" if most == 1 else "s"), tok.pos)
        return _Node("call", tok.pos, tok.text, tuple(args))

    def parse_name(self) -> _Node:
        start = self.peek().pos
        parts = []
        while True:
            tok = self.take()
            if tok.kind not in ("word", "quoted"):
                raise self.error("expected a name after '.'", tok.pos)
            parts.append(tok.text.strip("`") if tok.kind == "quoted" else tok.text)
            if not self.at("punct", "."):
                break
            self.take()
        if len(parts) > 1 and parts[0] == "metrics":
            parts = parts[1:]
        return _Node("name", start, ".".join(parts))


def _known(x: float) -> bool:
    return x == x  # False for NaN (and for a metric not logged yet, which reads as NaN)


def _compile(node: _Node):
    """A closure ``env -> value`` for ``node``: no ``eval``, just nested functions."""
    kind = node.kind
    if kind == "num":
        value = node.value
        return lambda env: value
    if kind == "name":
        key = node.value
        return lambda env: env.get(key, NAN)
    args = [_compile(a) for a in node.args]
    if kind == "neg":
        (f,) = args
        return lambda env: -f(env)
    if kind == "arith":
        f, g = args
        if node.value == "/":
            return lambda env: _divide(f(env), g(env))
        op = ARITH[node.value]
        return lambda env: op(f(env), g(env))
    if kind == "cmp":
        f, g = args
        op = COMPARE[node.value]

        def compare(env):
            a, b = f(env), g(env)
            return _known(a) and _known(b) and op(a, b)

        return compare
    if kind == "not":
        (f,) = args
        return lambda env: not f(env)
    if kind == "and":
        f, g = args
        return lambda env: f(env) and g(env)
    if kind == "or":
        f, g = args
        return lambda env: f(env) or g(env)
    fn = FUNCS[node.value][0]
    return lambda env: _call(fn, [a(env) for a in args])


def _divide(a: float, b: float) -> float:
    try:
        return a / b
    except ZeroDivisionError:
        return NAN


def _call(fn, values: list[float]) -> float:
    if not all(_known(v) for v in values):
        return NAN
    return fn(*values) if fn is abs else fn(values)


def _names(node: _Node, out: set) -> set:
    if node.kind == "name":
        out.add(node.value)
    for arg in node.args:
        _names(arg, out)
    return out


class Condition:
    """A parsed condition: ``Condition("val_loss > 2.0").evaluate({"val_loss": 3.1})``.

    ``names`` are the metric keys it reads; ``evaluate`` takes the latest value of
    each (a missing key reads as not known: every comparison with it is false).
    """

    __slots__ = ("text", "names", "_fn")

    def __init__(self, text: str):
        if not isinstance(text, str):
            raise ConditionError(f"a condition is text, got {type(text).__name__}")
        tree = _Parser(text).parse()
        self.text = text
        self.names = frozenset(_names(tree, set()))
        if not self.names:
            raise ConditionError("the condition names no metric, so nothing would ever check it",
                                 text, 0)
        self._fn = _compile(tree)

    def evaluate(self, env: dict[str, float]) -> bool:
        return bool(self._fn(env))

    def __repr__(self) -> str:
        return f"Condition({self.text!r})"
