"""``where=`` under fuzzing: every filter either selects runs or raises a FilterError that
points at a position in the text, never a polars, type or recursion error."""

from __future__ import annotations

import os

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import nbtrack  # noqa: E402
from nbtrack.errors import FilterError  # noqa: E402

EXAMPLES = int(os.environ.get("NBTRACK_FUZZ_EXAMPLES", "300"))


@pytest.fixture(scope="module")
def mixed_store(tmp_path_factory):
    """Runs whose params, metrics and metadata hold every type a column can end up with:
    ints, floats, booleans, text, mixed (text column), lists, nested metadata, nulls."""
    root = tmp_path_factory.mktemp("fuzz") / "store"
    specs = [
        ({"n": 1, "f": 0.5, "b": True, "s": "adam", "mix": 3, "lst": [1, 2]},
         {"hw": {"gpu": "A100", "count": 8}, "flag": True}, {"acc": 0.9, "loss": 0.1}),
        ({"n": 2, "f": 1.5, "b": False, "s": "sgd", "mix": "large", "lst": ["a"]},
         {"hw": {"gpu": "H100"}, "flag": "yes"}, {"acc": 0.5}),
        ({"n": 3, "s": "", "mix": True, "lst": []}, {"hw": {"cpu": "epyc"}}, {"loss": 2.0}),
    ]
    for i, (params, meta, metrics) in enumerate(specs):
        with nbtrack.start_run("exp", name=f"r{i}", tags=["t", f"x{i}"], params=params,
                               metadata=meta, store=root) as run:
            run.log(metrics)
    return root


FIELDS = ["params.n", "params.f", "params.b", "params.s", "params.mix", "params.lst",
          "metrics.acc", "metrics.loss", "metadata.hw.gpu", "metadata.hw.count",
          "metadata.flag", "status", "name", "tags", "inputs", "started", "ended",
          "duration_s", "cost", "archived", "n", "acc", "nope", "params.nope", "`params.n`"]
OPS = ["==", "=", "!=", "<", "<=", ">", ">=", "is", "is not", "contains", "not contains",
       "in", "not in", "not"]
SCALARS = st.one_of(
    st.integers(-10**20, 10**20).map(str), st.floats(allow_nan=False).map(repr),
    st.sampled_from(["true", "false", "null", "none", "TRUE", "1e400", "-0", ".5", "5.",
                     "nan", "inf", "2026-01-01", '"2026-01-01T10:00"', "adam", "`x`"]),
    st.text(max_size=8).map(lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'),
)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3).map(
    lambda xs: "[" + ", ".join(xs) + "]"), max_leaves=6)


@st.composite
def comparison(draw):
    return f"{draw(st.sampled_from(FIELDS))} {draw(st.sampled_from(OPS))} {draw(VALUES)}"


FILTERS = st.recursive(
    comparison(),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["and", "or", "AND"]), inner).map(" ".join),
        inner.map(lambda x: f"not {x}"), inner.map(lambda x: f"({x})"),
    ),
    max_leaves=5,
)
SOUP = st.lists(st.sampled_from(
    FIELDS + OPS + ["(", ")", "[", "]", ",", ".", "and", "or", "1", "'a'", "true", "null",
                    "\\", "$", "@", "\x00", "é"]), max_size=12).map(" ".join)


def check(where: str) -> None:
    try:
        frame = nbtrack.runs(where=where)
    except FilterError as exc:
        assert isinstance(exc.position, int), (where, exc)
        assert 0 <= exc.position <= len(where), (where, exc)
        return
    assert set(frame["name"]) <= {"r0", "r1", "r2"}


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(where=st.one_of(FILTERS, SOUP, st.text(max_size=30)))
def test_every_filter_works_or_raises_a_filter_error(mixed_store, monkeypatch, where):
    monkeypatch.setenv("NBTRACK_HOME", str(mixed_store))
    check(where)


@pytest.mark.parametrize("where", [
    "params.n in [1.5]", "params.n in [1, 1.5]", "metrics.acc == [1]", "params.n < [1]",
    "params.mix == true", "params.mix in [true, 3]", "params.b in [1]", "params.b == 1",
    "params.s > 3", "tags == [1]", "started in [1]", "started == 3", "params.lst contains 1",
    "metadata.flag == true", "params.f in ['a']", "params.n == 1e400", "duration_s in [true]",
    "(" * 2000 + "params.n == 1" + ")" * 2000, "not " * 5000 + "params.n == 1",
])
def test_ordinary_filters_that_used_to_leak_polars_errors(mixed_store, monkeypatch, where):
    monkeypatch.setenv("NBTRACK_HOME", str(mixed_store))
    check(where)


def test_true_matches_booleans_in_a_mixed_column(mixed_store, monkeypatch):
    monkeypatch.setenv("NBTRACK_HOME", str(mixed_store))
    assert nbtrack.runs(where="params.mix == true")["name"].to_list() == ["r2"]
    assert nbtrack.runs(where="metadata.flag == true")["name"].to_list() == ["r0"]
    assert sorted(nbtrack.runs(where="params.mix != true")["name"]) == ["r0", "r1"]
    assert nbtrack.runs(where="params.n in [1.5, 2]")["name"].to_list() == ["r1"]
    assert nbtrack.runs(where="params.mix == 3")["name"].to_list() == ["r0"]
