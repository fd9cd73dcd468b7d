"""The ``where=`` language: operators, boolean logic, dotted metadata paths, errors."""

from __future__ import annotations

import pytest

import nbtrack
from nbtrack.errors import FilterError


@pytest.fixture(scope="module")
def filter_store(tmp_path_factory):
    """Three runs made once for the module; tests read them through ``store=``."""
    root = tmp_path_factory.mktemp("filters") / "store"
    specs = [
        ("a", ["nlp"], {"lr": 0.001, "opt": "adam", "layers": 12, "fp16": True},
         {"hardware": {"gpu": "NVIDIA A100-SXM4", "count": 8}}, {"loss": 0.2, "acc": 0.91}),
        ("b", ["nlp", "final"], {"lr": 0.01, "opt": "sgd", "layers": 24, "fp16": False},
         {"hardware": {"gpu": "NVIDIA H100", "count": 1}}, {"loss": 0.5, "acc": 0.85}),
        ("c", ["vision"], {"lr": 0.1, "opt": "adam", "layers": 6},
         {"hardware": {"cpu": "epyc"}}, {"loss": 2.5}),
    ]
    for name, tags, params, meta, metrics in specs:
        with nbtrack.start_run("exp", name=name, tags=tags, params=params, metadata=meta,
                               store=root) as r:
            r.log(metrics)
    return root


@pytest.fixture
def runs_made(filter_store, monkeypatch):
    monkeypatch.setenv("NBTRACK_HOME", str(filter_store))


def names(where: str) -> list[str]:
    return sorted(nbtrack.runs(where=where)["name"])


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("params.lr == 0.01", ["b"]),
        ("params.lr = 0.01", ["b"]),
        ("params.lr != 0.01", ["a", "c"]),
        ("params.lr < 0.01", ["a"]),
        ("params.lr <= 0.01", ["a", "b"]),
        ("params.lr > 0.01", ["c"]),
        ("params.lr >= 0.01", ["b", "c"]),
        ("params.lr < 1e-2", ["a"]),
        ("metrics.loss < 1", ["a", "b"]),
        ("metrics.acc >= 0.9", ["a"]),
        ("params.layers > 10", ["a", "b"]),
        ('params.opt == "adam"', ["a", "c"]),
        ("params.opt == 'sgd'", ["b"]),
        ("params.opt == adam", ["a", "c"]),  # a bare word is text
        ('params.opt is "adam"', ["a", "c"]),
        ('params.opt is not "adam"', ["b"]),
        ('params.opt contains "da"', ["a", "c"]),
        ('params.opt not contains "da"', ["b"]),
        ('params.opt in ["sgd", "rmsprop"]', ["b"]),
        ("params.layers in [6, 24]", ["b", "c"]),
        ('params.opt not in ["sgd"]', ["a", "c"]),
        ("params.fp16 == true", ["a"]),
        ("params.fp16 is null", ["c"]),
        ("params.fp16 is not null", ["a", "b"]),
        ("metrics.acc is null", ["c"]),
        ('metadata.hardware.gpu contains "A100"', ["a"]),
        ('metadata.hardware.gpu contains "NVIDIA"', ["a", "b"]),
        ("metadata.hardware.count >= 8", ["a"]),
        ("metadata.hardware.gpu is null", ["c"]),
        ('metadata.hardware.cpu == "epyc"', ["c"]),
        ('tags contains "nlp"', ["a", "b"]),
        ('tags contains "fin"', ["b"]),
        ('tags not contains "nlp"', ["c"]),
        ('status == "completed"', ["a", "b", "c"]),
        ('name != "a"', ["b", "c"]),
        ('params.opt == "adam" and metrics.loss < 1', ["a"]),
        ('params.opt == "sgd" or metrics.loss > 1', ["b", "c"]),
        ('not params.opt == "adam"', ["b"]),
        ("not params.fp16 == true", ["b", "c"]),  # c has no fp16: like params.fp16 != true
        ("params.fp16 != true", ["b", "c"]),
        ('not (params.fp16 == true or params.opt == "sgd")', ["c"]),
        ("not metrics.acc > 0.9", ["b", "c"]),
        ('not (params.opt == "adam" or params.lr < 0.05)', []),
        ('(params.opt == "adam" or params.opt == "sgd") and metrics.loss > 0.3', ["b", "c"]),
        ('params.opt == "adam" and (metrics.loss > 1 or params.layers > 10)', ["a", "c"]),
        ("lr < 0.01", ["a"]),  # a bare name is looked up as params., metrics., metadata.
        ("loss > 1", ["c"]),
        ("params.lr > 0.5", []),
        ("params.lr < 0.01 AND loss < 1", ["a"]),  # keywords in any case
    ],
)
def test_where_selects_the_expected_runs(runs_made, where, expected):
    assert names(where) == expected


def test_where_on_times_lists_and_mixed_columns(tmp_path):
    (tmp_path / "train.csv").write_text("x")
    with nbtrack.start_run("exp", name="one", params={"size": 3}) as one:
        one.use_input("train.csv")
    with nbtrack.start_run("exp", name="two", params={"size": "large", "q": 'say "hi"'},
                           tags=["t"]):
        pass
    assert names('started > "2020-01-01"') == ["one", "two"]
    assert names('started < "2020-01-01T10:00"') == []
    assert names("duration_s >= 0") == ["one", "two"]
    assert names('inputs contains "train"') == ["one"]
    assert names('tags == "t"') == ["two"]
    assert names("params.size > 2") == ["one"]  # text column, compared as numbers per row
    assert names('params.size == "large"') == ["two"]
    assert names(r'params.q == "say \"hi\""') == ["two"]  # escaped quotes
    assert names("""params.q == 'say "hi"'""") == ["two"]
    with pytest.raises(FilterError, match="time"):
        nbtrack.runs(where='started > "yesterday"')
    with pytest.raises(FilterError, match="list column"):
        nbtrack.runs(where="tags > 3")


def test_where_combines_with_other_selectors(runs_made):
    assert sorted(nbtrack.runs(tags="nlp", where="params.lr > 0.005")["name"]) == ["b"]


def position_of(where: str) -> int:
    with pytest.raises(FilterError) as info:
        nbtrack.runs(where=where)
    err = info.value
    assert err.expression == where
    # the message shows the expression with a caret under the offending character
    lines = str(err).splitlines()
    assert lines[-2].strip() == where.strip()
    assert lines[-1].index("^") - lines[-2].index(where[:1] or " ") == err.position
    return err.position


@pytest.mark.parametrize(
    ("where", "position"),
    [
        ("params.lr <", 11),  # the end: a value is missing
        ("params.lr > 0.1 and", 19),
        ("params.lr >> 3", 11),
        ("params.lr $ 3", 10),
        ("params.lr 3", 10),
        ("(params.lr > 1", 14),
        ("params.lr > 1)", 13),
        ("params.lr > 1 metrics.loss < 2", 14),
        ('params.opt == "adam', 14),
        ("params.lr < null", 12),
        ("params.lr in 3", 13),
        ("params. > 3", 8),  # the token where a name should be
        ("and params.lr > 1", 0),
        ("params.lr not 3", 14),
        ('params.lr > 1 or metrics.los < 2', 17),  # unknown field: its start
        ("params.lr > abc", 12),  # not a number for a numeric column
        ("params.fp16 == 3", 15),
    ],
)
def test_malformed_filter_points_at_the_position(runs_made, where, position):
    assert position_of(where) == position


def test_empty_filter_is_an_error(runs_made):
    with pytest.raises(FilterError, match="empty"):
        nbtrack.runs(where="   ")


def test_unknown_field_suggests_close_names(runs_made):
    with pytest.raises(FilterError, match="did you mean.*metrics.loss") as info:
        nbtrack.runs(where="metrics.los < 1")
    assert info.value.position == 0
    with pytest.raises(FilterError, match="params.opt"):
        nbtrack.runs(where='params.otp == "adam"')
    with pytest.raises(FilterError, match="metadata.hardware.gpu"):
        nbtrack.runs(where='metadata.hardware.gpus contains "A"')


@pytest.mark.parametrize(
    "payload",
    [
        "__import__('os').system('touch pwned')",
        "params.lr == __import__('os').system('touch pwned')",
        "params.lr == 1 or __import__('os').system('touch pwned')",
        "[c for c in ().__class__.__base__.__subclasses__()]",
        "params.lr == 1; import os; os.system('touch pwned')",
        'eval("open(\'pwned\', \'w\')")',
    ],
)
def test_python_in_a_filter_is_rejected_never_run(runs_made, tmp_path, payload):
    with pytest.raises(FilterError):
        nbtrack.runs(where=payload)
    assert not (tmp_path / "pwned").exists()


def test_filter_errors_are_value_errors_too(runs_made):
    with pytest.raises(ValueError):
        nbtrack.runs(where="params.lr <")
    with pytest.raises(FilterError):
        nbtrack.runs(where=42)  # type: ignore[arg-type]
