"""Run ids and friendly run names.

A run id is 26 characters of lower-case Crockford base32: 48 bits of
milliseconds since the epoch, then 80 random bits (the ULID layout). Ids sort
by start time as plain strings, are unique across processes and machines
without coordination, and within one process strictly increase even inside the
same millisecond. A friendly name (``blazing-curie-0544``) is easier to say;
its uniqueness in a store is claimed with an exclusive file create.
"""

from __future__ import annotations

import os
import secrets
import threading
import time

ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_lock = threading.Lock()
_last = [0, 0]  # (ms, random) of the previous id in this process


def _encode(value: int, length: int) -> str:
    out = []
    for _ in range(length):
        out.append(ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(out))


def new_run_id(now_ms: int | None = None) -> str:
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    with _lock:
        if ms <= _last[0]:
            ms = _last[0]
            rand = _last[1] + 1  # same (or earlier) millisecond: stay monotonic
            if rand >> 80:  # the random part is used up: borrow the next millisecond
                ms, rand = ms + 1, secrets.randbits(79)
        else:
            rand = secrets.randbits(80)
        _last[0], _last[1] = ms, rand & ((1 << 80) - 1)
    return _encode(ms, 10) + _encode(_last[1], 16)


def run_id_time(run_id: str) -> float:
    """Seconds since the epoch encoded in a run id."""
    ms = 0
    for ch in run_id[:10]:
        ms = ms * 32 + ALPHABET.index(ch)
    return ms / 1000.0


if hasattr(os, "register_at_fork"):  # a forked child must not repeat the parent's sequence
    os.register_at_fork(after_in_child=lambda: _last.__setitem__(slice(None), [0, 0]))

ADJECTIVES = (
    "agile amber ancient azure bold brave breezy bright brisk calm clever cosmic crisp curious "
    "daring dazzling eager earnest electric elegant fancy fearless fierce fluffy frosty gentle "
    "gleaming golden graceful happy hidden humble icy jolly keen kind lively lucid lucky mellow "
    "merry misty modest nimble noble patient peppy placid playful polished proud quick quiet "
    "radiant rapid rustic serene sharp shiny silent silver sleek snappy solid sparkling spry "
    "steady stellar sturdy sunny swift tidy tranquil trusty vivid warm wise witty zesty blazing"
).split()
SCIENTISTS = (
    "agnesi archimedes babbage bohr boole cantor carson cauchy colden curie darwin dijkstra "
    "einstein euclid euler faraday fermat fermi feynman franklin galileo gauss germain goodall "
    "hamilton hawking heisenberg hopper hypatia joule kepler knuth lamarr laplace lovelace "
    "maxwell meitner mendel newton noether pascal pasteur planck poincare ramanujan riemann "
    "sagan shannon somerville tesla turing volta wiles wright yalow"
).split()


def friendly_name() -> str:
    return (
        f"{secrets.choice(ADJECTIVES)}-{secrets.choice(SCIENTISTS)}-{secrets.randbelow(10000):04d}"
    )
