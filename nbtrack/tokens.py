"""The tokenizer shared by nbtrack's two small languages: ``where=`` filters
(:mod:`nbtrack.query.filters`) and alert conditions (:mod:`nbtrack.conditions`).

Each grammar passes its own token pattern (named groups; ``ws`` is skipped), its
keywords and its error type, so a mistake points at the offending character in
that grammar's own terms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass
class Tok:
    kind: str
    text: str
    pos: int


def tokenize(text: str, pattern: re.Pattern, keywords, error) -> list[Tok]:
    """Tokens of ``text``, ending with an ``end`` token; a word in ``keywords`` becomes a
    ``kw`` token (lower-cased). ``error(message, text, pos)`` is raised at a character
    no group matches."""
    toks: list[Tok] = []
    pos = 0
    while pos < len(text):
        m = pattern.match(text, pos)
        if m is None:
            raise error(f"unexpected character {text[pos]!r}", text, pos)
        kind = m.lastgroup or ""
        if kind != "ws":
            value = m.group()
            if kind == "word" and value.lower() in keywords:
                kind, value = "kw", value.lower()
            toks.append(Tok(kind, value, pos))
        pos = m.end()
    toks.append(Tok("end", "", len(text)))
    return toks


class Cursor:
    """A parser's place in the tokens of ``text`` (both grammars parse by recursive
    descent over this): ``peek`` the next token, ``take`` it."""

    def __init__(self, text: str, pattern: re.Pattern, keywords, error):
        self.text = text
        self.toks = tokenize(text, pattern, keywords, error)
        self.i = 0

    def peek(self) -> Tok:
        return self.toks[self.i]

    def take(self) -> Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok
