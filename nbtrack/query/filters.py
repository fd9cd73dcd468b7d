"""The ``where=`` language: a small grammar compiled to polars expressions.

Never ``eval``: text is tokenised and parsed by the grammar below, and every
mistake is a :class:`~nbtrack.errors.FilterError` that points at the offending
character::

    expr       := or
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | "(" expr ")" | comparison
    comparison := field op value | field "is" ["not"] "null"
    op         := == | = | != | < | <= | > | >= | is | is not | contains | not contains | in
    field      := name ("." name)*         name: letters, digits, _ - / or `back quoted`
    value      := number | "text" | 'text' | true | false | bare-word | [value, ...]

Fields are the columns of ``runs()``: ``params.lr``, ``metrics.loss``,
``metadata.hardware.gpu`` (dotted paths into nested metadata), ``status``,
``tags``, ``inputs`` ... A bare name that is not a column is looked up as
``params.``, ``metrics.`` then ``metadata.`` name.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass

from ..errors import FilterError
from ..tokens import Cursor, Tok

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<number>[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![A-Za-z_]))
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<quoted>`[^`]*`)
  | (?P<op>==|!=|<=|>=|=|<|>)
  | (?P<punct>[().,\[\]])
  | (?P<word>[A-Za-z_][A-Za-z0-9_\-/:@]*)
    """,
    re.VERBOSE,
)
KEYWORDS = {"and", "or", "not", "is", "contains", "in", "true", "false", "null", "none"}
ALIASES = {"input": "inputs", "output": "outputs", "tag": "tags"}
LIST_COLUMNS_SUBSTRING = {"inputs", "outputs", "input_sha256", "output_sha256"}
MAX_DEPTH = 100


# ----------------------------------------------------------------- parse tree
@dataclass
class Cmp:
    field: str
    field_pos: int
    op: str
    value: object
    value_pos: int


@dataclass
class BoolOp:
    op: str  # "and" | "or" | "not"
    args: list


class _Parser(Cursor):
    def __init__(self, text: str):
        super().__init__(text, _TOKEN, KEYWORDS, FilterError)
        self.depth = 0  # nesting of not / ( : bounded, so no RecursionError

    def deeper(self, tok: Tok) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"the filter nests deeper than {MAX_DEPTH} levels", tok)

    def error(self, message: str, tok: Tok | None = None) -> FilterError:
        tok = tok or self.peek()
        return FilterError(message, self.text, tok.pos)

    def parse(self):
        if self.peek().kind == "end":
            raise self.error("empty filter")
        node = self.parse_or()
        if self.peek().kind != "end":
            raise self.error(f"expected 'and', 'or' or the end, found {self.peek().text!r}")
        return node

    def parse_or(self):
        args = [self.parse_and()]
        while self.peek().kind == "kw" and self.peek().text == "or":
            self.take()
            args.append(self.parse_and())
        return args[0] if len(args) == 1 else BoolOp("or", args)

    def parse_and(self):
        args = [self.parse_not()]
        while self.peek().kind == "kw" and self.peek().text == "and":
            self.take()
            args.append(self.parse_not())
        return args[0] if len(args) == 1 else BoolOp("and", args)

    def parse_not(self):
        tok = self.peek()
        if tok.kind == "kw" and tok.text == "not":
            self.take()
            self.deeper(tok)
            node = BoolOp("not", [self.parse_not()])
            self.depth -= 1
            return node
        if tok.kind == "punct" and tok.text == "(":
            self.take()
            self.deeper(tok)
            node = self.parse_or()
            if self.peek().text != ")":
                raise self.error("expected ')'")
            self.take()
            self.depth -= 1
            return node
        return self.parse_comparison()

    def parse_field(self) -> tuple[str, int]:
        tok = self.peek()
        if tok.kind not in ("word", "quoted"):
            raise self.error(f"expected a field name (like params.lr), found {tok.text or 'the end'!r}")
        start = tok.pos
        parts = []
        while True:
            tok = self.take()
            if tok.kind == "word":
                parts.append(tok.text)
            elif tok.kind == "quoted":
                parts.append(tok.text[1:-1])
            else:
                raise self.error("expected a name after '.'", tok)
            if self.peek().kind == "punct" and self.peek().text == ".":
                self.take()
                continue
            return ".".join(parts), start

    def parse_op(self) -> str:
        tok = self.take()
        if tok.kind == "op":
            return "==" if tok.text == "=" else tok.text
        if tok.kind == "kw" and tok.text == "is":
            if self.peek().kind == "kw" and self.peek().text == "not":
                self.take()
                return "is not"
            return "is"
        if tok.kind == "kw" and tok.text == "contains":
            return "contains"
        if tok.kind == "kw" and tok.text == "in":
            return "in"
        if tok.kind == "kw" and tok.text == "not":
            nxt = self.take()
            if nxt.kind == "kw" and nxt.text in ("contains", "in"):
                return "not " + nxt.text
            raise self.error("expected 'contains' or 'in' after 'not'", nxt)
        raise self.error(
            "expected an operator (==, !=, <, <=, >, >=, is, is not, contains, in), "
            f"found {tok.text or 'the end'!r}",
            tok,
        )

    def parse_value(self, in_list: bool = False):
        tok = self.take()
        if tok.kind == "number":
            # integers stay exact (a float round trip overflows on 400 digits)
            return int(tok.text) if re.fullmatch(r"[-+]?\d+", tok.text) else float(tok.text)
        if tok.kind == "string":
            body = tok.text[1:-1]
            return re.sub(r"\\(.)", r"\1", body)
        if tok.kind == "kw" and tok.text in ("true", "false"):
            return tok.text == "true"
        if tok.kind == "kw" and tok.text in ("null", "none"):
            return None
        if tok.kind == "word":
            return tok.text
        if tok.kind == "punct" and tok.text == "[":
            if in_list:
                raise self.error("a list holds single values, not lists", tok)
            items = []
            while not (self.peek().kind == "punct" and self.peek().text == "]"):
                items.append(self.parse_value(in_list=True))
                if self.peek().text == ",":
                    self.take()
                elif self.peek().text != "]":
                    raise self.error("expected ',' or ']' in the list")
            self.take()
            return items
        raise self.error(f"expected a value, found {tok.text or 'the end'!r}", tok)

    def parse_comparison(self) -> Cmp:
        field, field_pos = self.parse_field()
        op = self.parse_op()
        value_pos = self.peek().pos
        value = self.parse_value()
        if value is None and op not in ("is", "is not", "==", "!="):
            raise FilterError(f"'{op}' cannot compare with null", self.text, value_pos)
        if op in ("in", "not in") and not isinstance(value, list):
            raise FilterError(f"'{op}' needs a list like [1, 2]", self.text, value_pos)
        if op not in ("in", "not in") and isinstance(value, list):
            raise FilterError(f"'{op}' compares with one value; for a list of them use 'in'",
                              self.text, value_pos)
        return Cmp(field, field_pos, op, value, value_pos)


def parse(text: str):
    __tracebackhide__ = True  # noqa: F841 - IPython hides this frame
    if not isinstance(text, str):
        raise FilterError(f"where= takes a string, got {type(text).__name__}")
    try:
        return _Parser(text).parse()
    except FilterError as exc:  # raised from here: the parser's frames say nothing to a user
        raise exc.with_traceback(None) from None


# ----------------------------------------------------------------- compile
def compile_filter(text: str, schema: dict):
    """A polars boolean expression for ``text`` over a frame with ``schema``
    (column name -> polars dtype).

    Every comparison is checked against its column's type here, so a filter either
    compiles to an expression that runs or raises a :class:`FilterError` that points
    at the comparison; polars, type and recursion errors never reach the caller.
    """
    __tracebackhide__ = True  # noqa: F841 - IPython hides this frame
    tree = parse(text)
    try:
        return _compile(tree, schema, text)
    except FilterError as exc:  # raised from here, as parse() does
        raise exc.with_traceback(None) from None


def resolve_field(name: str, schema: dict, text: str = "", pos: int = 0) -> str:
    if name in schema:
        return name
    alias = ALIASES.get(name)
    if alias in schema:
        return alias
    for prefix in ("params.", "metrics.", "metadata."):
        if prefix + name in schema:
            return prefix + name
    close = difflib.get_close_matches(name, list(schema), n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise FilterError(f"unknown field {name!r}{hint}", text, pos)


def _compile(node, schema: dict, text: str):
    import polars as pl

    if isinstance(node, BoolOp):
        parts = [_compile(a, schema, text) for a in node.args]
        if node.op == "not":
            return ~parts[0]
        out = parts[0]
        for p in parts[1:]:
            out = (out & p) if node.op == "and" else (out | p)
        return out
    column = resolve_field(node.field, schema, text, node.field_pos)
    # a missing value makes a comparison false, not null, so that `not` and `or` keep
    # two-valued logic (`not x == 1` selects the runs without x, as `x != 1` does)
    expr = _comparison(pl.col(column), schema[column], column, node, text).fill_null(False)
    _check_types(expr, column, schema[column], node, text)
    return expr


def _check_types(expr, column: str, dtype, node: Cmp, text: str) -> None:
    """Run the comparison over an empty frame of the column's type: polars resolves
    types before it reads a row, so whatever it would refuse is refused now, as a
    FilterError at the comparison instead of a polars error from the query."""
    import polars as pl

    try:
        pl.DataFrame(schema={column: dtype}).filter(expr)
    except BaseException as exc:  # polars panics are BaseExceptions
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise FilterError(
            f"{node.field} ({_kind(dtype)}) cannot be compared with {node.op} "
            f"{_shown(node.value)}: {first}", text, node.field_pos,
        ) from None


def _kind(dtype) -> str:
    import polars as pl

    if dtype.is_numeric():
        return "a number"
    if dtype == pl.Boolean:
        return "true/false"
    if isinstance(dtype, pl.Datetime):
        return "a time"
    if isinstance(dtype, pl.List):
        return "a list"
    return "text"


def _shown(value) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_shown(v) for v in value) + "]"
    return _text(value) if not isinstance(value, str) else repr(value)


def _text(value) -> str:
    """A literal as the text form a column of JSON values holds it in."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def _comparison(col, dtype, column: str, node: Cmp, text: str):
    import polars as pl

    op, value = node.op, node.value
    if value is None:
        return col.is_null() if op in ("is", "==") else col.is_not_null()
    if isinstance(dtype, pl.List):
        return _list_comparison(col, column, node, text)
    if op in ("contains", "not contains"):
        expr = col.cast(pl.String).str.contains(_text(value), literal=True)
        return expr if op == "contains" else ~expr.fill_null(False)
    if op in ("in", "not in"):
        expr = _membership(col, dtype, node, text)
        return expr if op == "in" else ~expr.fill_null(False)
    if op in ("<", "<=", ">", ">=") and (dtype == pl.Boolean or isinstance(value, bool)):
        raise FilterError(f"'{op}' does not order true/false; use == or !=", text,
                          node.value_pos if isinstance(value, bool) else node.field_pos)
    col, lit = _align(col, dtype, value, node, text)
    if op in ("==", "is"):
        return col == lit
    if op in ("!=", "is not"):
        return col.ne_missing(lit)
    return {"<": col < lit, "<=": col <= lit, ">": col > lit, ">=": col >= lit}[op]


def _list_comparison(col, column: str, node: Cmp, text: str):
    import polars as pl

    op, value = node.op, node.value
    if op in ("in", "not in", "<", "<=", ">", ">="):
        raise FilterError(f"'{op}' does not apply to the list column {column}", text, node.field_pos)
    needle = _text(value)
    if op in ("contains", "not contains"):
        hit = col.list.eval(pl.element().str.contains(needle, literal=True)).list.any()
    else:
        hit = col.list.contains(needle)
    positive = op in ("contains", "==", "is")
    return hit.fill_null(False) if positive else ~hit.fill_null(False)


def _number(value, node: Cmp, text: str) -> float | int:
    """A literal compared with a number: an int that fits int64 stays exact."""
    if isinstance(value, bool):
        raise FilterError(f"{node.field} is a number; {_text(value)} is not", text, node.value_pos)
    if isinstance(value, int):
        if -(1 << 63) <= value < (1 << 63):
            return value
        return math.inf if value > 0 else -math.inf
    if isinstance(value, float):
        return value
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        raise FilterError(
            f"{node.field} is numeric; {value!r} is not a number", text, node.value_pos
        ) from None


def _boolean(value, node: Cmp, text: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise FilterError(f"{node.field} is true/false", text, node.value_pos)


def _time(value, node: Cmp, text: str):
    from datetime import datetime, timezone

    hint = f"{node.field} is a time; write it like \"2026-11-23\" or \"2026-11-23T10:00\""
    if not isinstance(value, str):
        raise FilterError(hint, text, node.value_pos)
    try:
        parsed = datetime.fromisoformat(value)
        return (parsed.astimezone(timezone.utc) if parsed.tzinfo
                else parsed.replace(tzinfo=timezone.utc))
    except (ValueError, OverflowError):
        raise FilterError(hint, text, node.value_pos) from None


def _membership(col, dtype, node: Cmp, text: str):
    """``in [...]``: each item taken as the column's type, or refused."""
    import polars as pl

    items = node.value
    if not items:
        return pl.lit(False)
    if dtype.is_numeric():
        numbers = [float(_number(v, node, text)) for v in items]
        return col.cast(pl.Float64).is_in(pl.Series(numbers, dtype=pl.Float64).implode())
    if dtype == pl.Boolean:
        return col.is_in(
            pl.Series([_boolean(v, node, text) for v in items], dtype=pl.Boolean).implode())
    if isinstance(dtype, pl.Datetime):
        times = pl.Series([_time(v, node, text) for v in items]).cast(dtype)
        return col.is_in(times.implode())
    # text (a column of mixed values holds each as its JSON text): strings and
    # true/false match the text, numbers match numerically
    words = [v if isinstance(v, str) else _text(v) for v in items
             if isinstance(v, (str, bool))]
    numbers = [float(_number(v, node, text)) for v in items
               if isinstance(v, (int, float)) and not isinstance(v, bool)]
    text_col = col.cast(pl.String)
    expr = text_col.is_in(pl.Series(words, dtype=pl.String).implode())
    if numbers:
        expr = expr | text_col.cast(pl.Float64, strict=False).is_in(
            pl.Series(numbers, dtype=pl.Float64).implode())
    return expr


def _align(col, dtype, value, node: Cmp, text: str):
    """Make column and literal comparable: numbers compare as numbers even when a column
    holds mixed types (it is then text, cast per row); true/false match the text form."""
    import polars as pl

    if dtype.is_numeric():
        return col, pl.lit(_number(value, node, text))
    if dtype == pl.Boolean:
        return col, pl.lit(_boolean(value, node, text))
    if isinstance(dtype, pl.Datetime):
        return col, pl.lit(_time(value, node, text)).cast(dtype)
    text_col = col.cast(pl.String)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return text_col.cast(pl.Float64, strict=False), pl.lit(float(_number(value, node, text)))
    return text_col, pl.lit(_text(value))
