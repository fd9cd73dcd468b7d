"""What well-known library calls do to the state a backward slice follows.

The cell analysis (``analysis``) is conservative: calling a method may change its
receiver and passing a name to a function may change the object it names. That
is right for code nobody here knows, and wrong for the libraries every notebook
uses, where it keeps cells a run does not need (``np.sort(X)`` does not change
``X``; ``clf.fit(X, y)`` changes ``clf``, not ``X``; ``plt.subplots()`` does not
change ``plt``). The tables below say, for calls *resolved through an import* to
one of a few libraries (``import numpy as np`` makes ``np.sort`` the qualified
name ``numpy.sort``), which calls change state and which do not. They are kept
short on purpose: anything not listed keeps the conservative reading.

Origins are strings: ``numpy.random`` (a module), ``sklearn.svm.SVC`` (something
imported), ``sklearn.svm.SVC()`` (an object a call to it returned; ``.attr`` and
``[]`` extend it). An object's library is the first word of its origin.
"""

from __future__ import annotations

import ast

# builtins that neither change their arguments nor hold on to them
PURE_BUILTINS = frozenset(
    "print len sum min max sorted list dict set tuple frozenset str int float bool repr abs "
    "round range enumerate zip isinstance issubclass type id hash any all format reversed "
    "divmod pow hex oct bin ord chr getattr hasattr callable display ascii complex bytes "
    "map filter iter next dir vars".split()
)
# method names that change neither their receiver nor their arguments, on any type
PURE_METHODS = frozenset(
    "get keys values items copy count index find rfind startswith endswith format join split "
    "rsplit strip lstrip rstrip lower upper title encode decode isdigit isalpha mean sum std var "
    "min max median mode describe head tail to_list tolist to_numpy to_dict to_pandas item "
    "astype reshape abs isnull isna notna unique nunique value_counts groupby agg aggregate "
    "select with_columns collect lazy filter where shape quantile cumsum diff rank corr cov "
    "exists is_file is_dir read_text read_bytes glob rglob resolve absolute joinpath "
    "hexdigest digest dumps loads format_map partition rpartition splitlines zfill center "
    "ljust rjust isoformat timestamp strftime total_seconds".split()
)
# libraries whose functions and whose objects' methods never change the *arguments*
# they are given (except the in-place calls below); torch is not here: its
# trailing-underscore functions and optimisers change what they are handed
TRUSTED = frozenset(
    "numpy scipy pandas polars pyarrow sklearn statsmodels patsy matplotlib seaborn math cmath "
    "statistics json re itertools functools operator string textwrap hashlib base64 pathlib "
    "datetime decimal fractions pprint time collections random nbtrack".split()
)
# of those, the ones whose objects are values (arrays, frames): a method changes its
# receiver only when it is one of that library's in-place methods (or gets inplace=True)
INPLACE_METHODS = {
    "numpy": frozenset("sort fill resize put itemset setflags partition byteswap".split()),
    "pandas": frozenset("insert pop update drop_duplicates_inplace".split()),
    "polars": frozenset("insert_column replace_column extend vstack_in_place drop_in_place "
                        "set_sorted_in_place".split()),
    "pyarrow": frozenset(),
}
DATA = frozenset(INPLACE_METHODS)
# methods of objects made by the trusted libraries that only read their receiver
READ_METHODS = frozenset(
    "predict predict_proba predict_log_proba decision_function score score_samples transform "
    "inverse_transform get_params get_feature_names_out kneighbors summary conf_int "
    "get_prediction forecast get_forecast simulate_predict t_test f_test wald_test "
    "get_xlim get_ylim get_legend_handles_labels get_figure".split()
)
# module functions that change their library's own state (configuration)
MODULE_STATE = frozenset(
    "matplotlib.pyplot.style.use matplotlib.style.use matplotlib.pyplot.rc matplotlib.rc "
    "matplotlib.pyplot.rcdefaults matplotlib.rcdefaults matplotlib.use "
    "matplotlib.pyplot.switch_backend matplotlib.pyplot.xkcd matplotlib.pyplot.rcParams.update "
    "matplotlib.rcParams.update seaborn.set seaborn.set_theme seaborn.set_style "
    "seaborn.set_context seaborn.set_palette seaborn.set_color_codes seaborn.reset_defaults "
    "seaborn.reset_orig pandas.set_option pandas.reset_option numpy.set_printoptions "
    "numpy.seterr polars.Config.set_tbl_rows".split()
)
# functions that change (the first of) their arguments in place
ARG_INPLACE = frozenset(
    "numpy.copyto numpy.put numpy.place numpy.putmask numpy.fill_diagonal numpy.put_along_axis "
    "numpy.random.shuffle random.shuffle".split()
)
# functions whose result may share memory with their argument (a view, or the same object)
VIEWS = frozenset(
    "numpy.asarray numpy.asanyarray numpy.ravel numpy.reshape numpy.transpose numpy.squeeze "
    "numpy.expand_dims numpy.atleast_1d numpy.atleast_2d numpy.atleast_3d numpy.swapaxes "
    "numpy.moveaxis numpy.broadcast_to numpy.flip numpy.fliplr numpy.flipud numpy.rot90 "
    "numpy.diagonal numpy.real numpy.imag pandas.DataFrame pandas.Series".split()
)

# what a library object's list-like attribute (``bunch.feature_names``) may be handed
_LIST_INPLACE = frozenset("append extend clear remove setdefault popitem add discard".split())
_NUMPY_MAKERS = frozenset(
    "default_rng RandomState Generator SeedSequence BitGenerator MT19937 PCG64 PCG64DXSM "
    "Philox SFC64".split()
)
_TORCH_DRAWS = frozenset(
    "rand randn randint randperm normal bernoulli multinomial poisson rand_like randn_like "
    "randint_like".split()
)
_TORCH_TENSOR_DRAWS = frozenset(
    "uniform_ normal_ bernoulli_ random_ exponential_ geometric_ cauchy_ log_normal_".split()
)
_CLOCK = frozenset(
    "time.time time.time_ns time.perf_counter time.perf_counter_ns time.monotonic "
    "time.monotonic_ns time.process_time time.process_time_ns time.ctime time.localtime "
    "time.gmtime time.asctime datetime.datetime.now datetime.datetime.utcnow "
    "datetime.datetime.today datetime.date.today pandas.Timestamp.now pandas.Timestamp.today "
    "pandas.Timestamp.utcnow pandas.to_datetime.now".split()
)
_ENTROPY = frozenset(
    "os.urandom os.getrandom uuid.uuid1 uuid.uuid4 random.SystemRandom".split()
)


def library(origin: str | None) -> str | None:
    if not origin:
        return None
    return origin.split(".", 1)[0].split("(", 1)[0].split("[", 1)[0]


def is_trusted(origin: str | None) -> bool:
    return library(origin) in TRUSTED


def is_object(origin: str) -> bool:
    """Whether an origin names an object a call returned (not a module or an import)."""
    return "(" in origin or "[" in origin


def _no_seed(call: ast.Call) -> bool:
    args = [*call.args, *(k.value for k in call.keywords if k.arg in ("seed", "x"))]
    return not args or all(isinstance(a, ast.Constant) and a.value is None for a in args)


def rng_effect(qual: str, call: ast.Call) -> tuple[str, str] | None:
    """``(generator, "seed" | "draw")`` when the call seeds or draws from a global one."""
    if qual.startswith("numpy.random."):
        fn = qual[len("numpy.random."):].split(".", 1)[0].split("(", 1)[0]
        if fn in _NUMPY_MAKERS or fn == "get_state":
            return None
        if fn in ("seed", "set_state"):
            return ("numpy", "draw" if _no_seed(call) else "seed")
        return ("numpy", "draw")
    if qual.startswith("random."):
        fn = qual[len("random."):]
        if fn in ("Random", "SystemRandom", "getstate") or "." in fn or "(" in fn:
            return None
        if fn in ("seed", "setstate"):
            return ("random", "draw" if _no_seed(call) else "seed")
        return ("random", "draw")
    if qual.startswith("torch."):
        fn = qual.rsplit(".", 1)[-1]
        if qual in ("torch.manual_seed", "torch.random.manual_seed"):
            return ("torch", "seed")
        if qual in ("torch.seed", "torch.random.seed"):
            return ("torch", "draw")
        if qual.count(".") == 1 and fn in _TORCH_DRAWS:
            return ("torch", "draw")
        if fn in _TORCH_TENSOR_DRAWS or qual.startswith("torch.nn.init."):
            return ("torch", "draw")
    return None


def uncontrolled_source(qual: str, call: ast.Call) -> str | None:
    """A description when the call returns something a fresh kernel cannot repeat: the
    wall clock, OS entropy, or a generator made without a seed."""
    if qual in _CLOCK:
        return f"reads the wall clock ({qual}())"
    if qual in _ENTROPY or qual.startswith("secrets."):
        return f"reads OS entropy ({qual}())"
    unseeded = {"numpy.random.default_rng", "numpy.random.RandomState", "numpy.random.seed",
                "numpy.random.SeedSequence", "random.Random", "random.seed"}
    if qual in unseeded and _no_seed(call):
        return f"uses a generator seeded from OS entropy ({qual}() with no seed)"
    if qual in ("torch.seed", "torch.random.seed"):
        return f"uses a generator seeded from OS entropy ({qual}())"
    return None


def changes_arguments(qual: str | None, call: ast.Call) -> bool:
    """Whether a call may change the objects its arguments name."""
    for k in call.keywords:
        if k.arg == "out" or (k.arg or "").startswith("overwrite_"):
            return True
    if qual is None or not is_trusted(qual):
        return True
    if qual in ARG_INPLACE or qual.endswith(".at") or qual.endswith(".shuffle"):
        return True
    return False


def changes_receiver(origin: str, method: str, call: ast.Call) -> bool:
    """Whether ``obj.method(...)`` may change ``obj``, whose origin is ``origin``."""
    inplace = any(k.arg == "inplace" and not (isinstance(k.value, ast.Constant)
                                              and k.value.value is False)
                  for k in call.keywords)
    if inplace:
        return True
    if method in PURE_METHODS:
        return False
    lib = library(origin)
    if lib not in TRUSTED:
        return True
    if not is_object(origin):  # a module's function
        return f"{origin}.{method}" in MODULE_STATE
    if lib in DATA and not origin.startswith("numpy.random."):  # generators are not values
        return method in INPLACE_METHODS[lib] or method in _LIST_INPLACE
    # get_*: the getters of matplotlib, scikit-learn and statsmodels objects
    return method not in READ_METHODS and not method.startswith("get_")
