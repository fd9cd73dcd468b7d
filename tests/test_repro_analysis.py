"""The static side of the slice: what a cell reads, binds and may change, with the
library rules of ``nbtrack.repro.libraries``, and the random-state capture."""

from __future__ import annotations

import random

import pytest

from nbtrack.capture import rng
from nbtrack.repro.analysis import analyse

NP = {"np": "numpy"}


def facts(src, known=None):
    return analyse(src, known)


@pytest.mark.parametrize("src", ["y += 5 * noise", "y[0] += 1", "y.a -= 2", "y[i].b *= 3"])
def test_augmented_assignment_is_a_possible_mutation_of_the_object(src):
    f = facts(src)
    assert "y" in f.mutates and "y" in f.uses


def test_augmented_assignment_of_a_name_the_cell_bound_is_local():
    f = facts("z = np.zeros(3)\nz += 1", NP)
    assert f.mutates == set() and "z" not in f.uses


def test_methods_on_a_name_bound_in_the_same_cell_are_not_reads_of_an_earlier_one():
    known = {"plt": "matplotlib.pyplot", "make_pipeline": "sklearn.pipeline.make_pipeline",
             "LogisticRegression": "sklearn.linear_model.LogisticRegression"}
    f = facts("fig, ax = plt.subplots()\nax.plot(x, y)\n"
              "model = make_pipeline(LogisticRegression())\nmodel.fit(X, y)", known)
    assert {"fig", "ax", "model"} <= f.defs
    assert not f.mutates and not {"ax", "model", "fig"} & f.uses


def test_a_local_alias_passes_mutations_on():
    f = facts("ax = axes[0]\nax.set_title('t')\nrow = cfg['sub']\nrow['k'] = 1")
    assert {"axes", "cfg"} <= f.mutates
    # what a library call returned is new, even when reached through an attribute of it
    f = facts("dta = sm.datasets.sunspots.load_pandas().data\ndta.index = idx",
              {"sm": "statsmodels.api"})
    assert f.mutates == set()


@pytest.mark.parametrize("src", ["print(sorted(globals()))", "v = vars()", "names = dir()", "%whos",
                                 "%who"])
def test_reading_every_name(src):
    assert facts(src).reads_all


def test_exec_and_globals_are_opaque_and_say_so():
    assert facts("exec('q = 1')").opaque_why == ["exec"]
    assert "globals" in facts("globals()['x'] = 1").opaque_why
    assert not facts("vars(obj)").reads_all and not facts("dir(obj)").opaque


@pytest.mark.parametrize("src", ["s = np.sort(X)", "m = np.mean(X)", "n = len(X)",
                                 "s = sorted(X)", "q = X.copy()", "r = np.linalg.norm(X)"])
def test_well_known_pure_calls_do_not_mutate_their_arguments(src):
    f = facts(src, NP)
    assert "X" not in f.mutates and "np" not in f.mutates


@pytest.mark.parametrize("src", ["np.random.shuffle(X)", "np.copyto(X, Y)", "np.add(A, B, out=X)",
                                 "np.add.at(X, idx, 1)", "X.sort()", "np.fill_diagonal(X, 0)"])
def test_in_place_library_calls_do_mutate(src):
    assert "X" in facts(src, {**NP, "X": "numpy.zeros()"}).mutates


def test_library_objects_and_unknown_objects():
    sk = {"clf": "sklearn.svm.SVC()", "df": "pandas.read_csv()", "pl_df": "polars.DataFrame()"}
    f = facts("clf.fit(X, y)\np = clf.predict(Z)\nd2 = df.dropna()\nq = pl_df.sort('a')", sk)
    assert f.mutates == {"clf"}  # fit changes the estimator, not its data
    assert "X" in facts("model.fit(X, y)").mutates  # an unknown object's method may
    assert "df" in facts("df.dropna(inplace=True)", sk).mutates
    assert "df" in facts("df['c'] = 1", sk).mutates


def test_user_functions_change_only_the_arguments_they_may_change():
    defs = analyse("def peek(a):\n    return a[0]\ndef push(a, v):\n    a.append(v)")
    fns = defs.functions
    assert fns["peek"].mutated_params == set() and fns["push"].mutated_params == {"a"}
    f = analyse("x = peek(data)\npush(items, data)", functions=fns)
    assert f.mutates == {"items"}


def test_global_random_generators_statically():
    f = facts("x = np.random.normal(size=3)", NP)
    assert "@rng:numpy" in f.uses and "@rng:numpy" in f.mutates
    f = facts("np.random.seed(0)\nx = np.random.normal(size=3)", NP)
    assert "@rng:numpy" in f.defs and "@rng:numpy" not in f.uses
    f = facts("random.random()", {"random": "random"})
    assert "@rng:random" in f.mutates
    f = facts("g = np.random.default_rng(0)\ng.normal()", NP)  # a seeded local generator
    assert not any(n.startswith("@rng") for n in f.uses | f.mutates) and not f.sources
    assert facts("g.normal()", {"g": "numpy.random.default_rng()"}).mutates == {"g"}


def test_uncontrolled_sources():
    assert "wall clock" in facts("t = time.time()", {"time": "time"}).sources[0]
    assert "wall clock" in facts("now = datetime.now()", {"datetime": "datetime.datetime"}).sources[0]
    assert "OS entropy" in facts("g = np.random.default_rng()", NP).sources[0]
    assert "OS entropy" in facts("u = uuid.uuid4()", {"uuid": "uuid"}).sources[0]
    assert not facts("g = np.random.default_rng(42)", NP).sources


def test_rng_capture_round_trip_and_change_detection():
    np = pytest.importorskip("numpy")
    before = rng.snapshot()
    assert {"random", "numpy"} <= set(before)
    assert rng.changed(before, rng.snapshot()) == {}
    x, y = np.random.normal(size=3), random.random()
    changed = rng.changed(before, rng.snapshot())
    assert set(changed) == {"random", "numpy"}
    for name, state in changed.items():
        rng.restore(rng.encode(name, state))
    assert (np.random.normal(size=3) == x).all() and random.random() == y


def test_rng_capture_sees_a_wrapped_mersenne_twister():
    np = pytest.importorskip("numpy")
    before = rng.snapshot()
    np.random.randint(0, 2**32 - 1, size=624, dtype=np.uint64)  # the position may come back
    assert "numpy" in rng.changed(before, rng.snapshot())


def test_numpy_imported_during_a_cell_without_a_draw_is_no_change_of_state(tmp_path):
    """pyarrow imports numpy (not numpy.random): when the flusher's warm-up imports it while
    a cell runs, that cell drew nothing from numpy's generator and must not read as having
    drawn from it in a state nobody saw (which made the export's random state uncontrolled)."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from nbtrack.capture import rng\n"
        "assert 'numpy' not in sys.modules\n"
        "before = rng.snapshot()\n"
        "import numpy\n"  # as pyarrow does: numpy.random stays unimported
        "assert 'numpy.random' not in sys.modules\n"
        "quiet = rng.changed(before, rng.snapshot())\n"
        "before = rng.snapshot()\n"
        "numpy.random.rand()\n"
        "drew = rng.changed(before, rng.snapshot())\n"
        "print(sorted(quiet), sorted(drew))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=tmp_path).stdout
    assert out.strip() == "[] ['numpy']"


def test_torch_generator_when_installed():
    torch = pytest.importorskip("torch")
    before = rng.snapshot()
    x = torch.rand(3)
    changed = rng.changed(before, rng.snapshot())
    assert "torch" in changed
    rng.restore(rng.encode("torch", changed["torch"]))
    assert torch.equal(torch.rand(3), x)


def _row(source, bound, run=False):
    return {"source": source, "ok": True, "run_ids": ["r"] if run else [], "bound": bound}


def test_a_function_called_in_its_cell_reads_what_the_cell_bound_before_the_call():
    from nbtrack.repro.slicing import slice_session

    rows = [_row("import nbtrack", ["nbtrack"]), _row("_np = 1", ["_np"]),
            _row("import numpy as _np\ndef f(v):\n    return _np.sum(v)\nnbtrack.log(x=f([1]))",
                 ["_np", "f"], run=True)]
    s = slice_session(rows, "r")
    assert [c.index for c in s.cells] == [0, 2] and not s.unresolved
    rows = [_row("W = 1", ["W"]), _row("def f():\n    return W", ["f"]),
            _row("y = f()\nW = 3", ["y", "W"], run=True)]  # f reads the earlier W first
    assert [c.index for c in slice_session(rows, "r").cells] == [0, 1, 2]


def test_getters_of_library_objects_only_read():
    f = facts("m = res.get_margeff()\nlim = ax.get_xlim()",
              {"res": "statsmodels.api.Logit().fit()", "ax": "matplotlib.pyplot.subplots()[]"})
    assert f.mutates == set()
