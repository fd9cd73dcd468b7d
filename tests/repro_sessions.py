"""Recorded notebook sessions people really produce, for the export/reproduce suite.

Each session is the cells as typed, in the order they ran, the run to export
(always named ``target``), and the cells the export must contain besides the
run's own cells: exactly those, no more (an unneeded cell is a failure too).
Indices are 0-based positions in ``cells``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Session:
    name: str
    cells: list[str]
    needed: set[int]  # cells before/around the run that the export must include
    files: dict[str, str] = field(default_factory=dict)  # written before the session
    delete_before_reproduce: list[str] = field(default_factory=list)
    note: str = ""

    def prepare(self, folder: Path) -> None:
        for rel, text in self.files.items():
            path = folder / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)


START = "%track start suite --name target"
STOP = "%track stop"

SESSIONS = [
    Session(
        "data_loaded_before_start",
        [
            "%load_ext nbtrack",
            "rows = [float(x) for x in open('data.csv').read().split(',')]",
            "print(len(rows), 'rows')",
            START,
            "import nbtrack\nfor i, r in enumerate(rows):\n    nbtrack.log({'r2': r * r}, step=i)",
            STOP,
        ],
        needed={0, 1},
        files={"data.csv": "1.5,2.5,3.5,4.5"},
        note="the data is read before the run; a cell that only prints it is not needed",
    ),
    Session(
        "state_before_load_ext",
        [
            "import math\nbase = math.sqrt(16)",
            "unused = [1, 2, 3]",
            "%load_ext nbtrack",
            START,
            "import nbtrack\nnbtrack.log(value=base * 2)",
            STOP,
        ],
        needed={0, 2},
        note="state from before %load_ext comes from IPython's history (static analysis)",
    ),
    Session(
        "cell_edited_and_rerun",
        [
            "%load_ext nbtrack",
            "lr = 0.1",
            "lr = 0.01",
            START,
            "%track params lr",
            "import nbtrack\nfor step in range(3):\n    nbtrack.log({'loss': 1 / (1 + lr * step)}, step=step)",
            STOP,
        ],
        needed={0, 2},
        note="only the value the run saw: the first version of the cell is dead",
    ),
    Session(
        "in_place_mutation",
        [
            "%load_ext nbtrack",
            "config = {'lr': 0.1, 'layers': []}",
            "config['lr'] = 0.5",
            "config['layers'].append(64)",
            "history = []",
            "history.append(3)",
            START,
            "import nbtrack\nnbtrack.log(lr=config['lr'], width=config['layers'][0], h=sum(history))",
            STOP,
        ],
        needed={0, 1, 2, 3, 4, 5},
        note="item assignment and a method call are mutations of the same object",
    ),
    Session(
        "defined_by_line_magic",
        [
            "%load_ext nbtrack",
            "%time total = sum(range(1000))",
            START,
            "import nbtrack\nnbtrack.log(total=total)",
            STOP,
        ],
        needed={0, 1},
        note="a name bound only inside %time",
    ),
    Session(
        "unrelated_cell_raised",
        [
            "%load_ext nbtrack",
            "k = 3",
            "undefined_name + 1",
            "k2 = k * 2",
            START,
            "import nbtrack\nnbtrack.log(k2=k2)",
            STOP,
        ],
        needed={0, 1, 3},
    ),
    Session(
        "unrelated_slow_cell",
        [
            "%load_ext nbtrack",
            "import time\ntime.sleep(2)\nslow = 'done'",
            "w = 4",
            START,
            "import nbtrack\nnbtrack.log(w=w)",
            STOP,
        ],
        needed={0, 2},
        note="the slow cell must not be exported",
    ),
    Session(
        "input_written_then_deleted",
        [
            "%load_ext nbtrack",
            "with open('inputs.txt', 'w') as f:\n    f.write('4,5,6')",
            START,
            "import nbtrack\npath = nbtrack.use_input('inputs.txt')\n"
            "nums = [int(x) for x in open(path).read().split(',')]\nnbtrack.log(s=sum(nums))",
            STOP,
        ],
        needed={0},
        delete_before_reproduce=["inputs.txt"],
        note="the input is restored from the store, so the cell that wrote it is not needed",
    ),
    Session(
        "track_cell_magic",
        [
            "%load_ext nbtrack",
            "scale = 10",
            "%%track suite --name target\nimport nbtrack\nfor i in range(4):\n    nbtrack.log(v=i * scale)",
        ],
        needed={0, 1},
    ),
    Session(
        "context_manager_api",
        [
            "import nbtrack",
            "weight = 3",
            "other = 99",
            "with nbtrack.start_run('suite', name='target', params={'weight': weight}) as run:\n"
            "    for i in range(5):\n        run.log({'m': weight * i}, step=i)",
        ],
        needed={0, 1},
        note="no %load_ext at all: capture installs itself when the run starts",
    ),
    Session(
        "function_reads_global_at_call_time",
        [
            "%load_ext nbtrack",
            "def loss_fn(x):\n    return x * scale",
            "scale = 2",
            "print(loss_fn(1))",
            "scale = 3",
            START,
            "import nbtrack\nnbtrack.log(l=loss_fn(5))",
            STOP,
        ],
        needed={0, 1, 4},
        note="the global a function reads is resolved where it is called",
    ),
    Session(
        "method_reads_global",
        [
            "%load_ext nbtrack",
            "class Model:\n    def predict(self, x):\n        return x * W",
            "m = Model()",
            "W = 5",
            START,
            "import nbtrack\nnbtrack.log(p=m.predict(2))",
            STOP,
        ],
        needed={0, 1, 2, 3},
    ),
    Session(
        "random_seed_in_earlier_cell",
        [
            "%load_ext nbtrack",
            "import random",
            "random.seed(1234)",
            START,
            "import nbtrack\nfor i in range(3):\n    nbtrack.log(x=random.random(), step=i)",
            STOP,
        ],
        needed={0, 1},
        note="the generator's state before the run's draw was recorded and is put back, so "
        "the seed cell is not needed",
    ),
    Session(
        "deleted_then_redefined",
        [
            "%load_ext nbtrack",
            "tmp = [1]",
            "del tmp",
            "tmp = [2, 2]",
            START,
            "import nbtrack\nnbtrack.log(t=sum(tmp))",
            STOP,
        ],
        needed={0, 3},
    ),
    Session(
        "rebound_to_the_same_object",
        [
            "%load_ext nbtrack",
            "n = 7",
            "n = 7",
            START,
            "import nbtrack\nnbtrack.log(n=n)",
            STOP,
        ],
        needed={0, 1},
        note="the kernel saw the second cell leave n on the same object: one cell suffices",
    ),
    Session(
        "global_set_inside_a_function",
        [
            "%load_ext nbtrack",
            "def setup():\n    global LR\n    LR = 0.3",
            "setup()",
            START,
            "import nbtrack\nnbtrack.log(lr=LR)",
            STOP,
        ],
        needed={0, 1, 2},
        note="only the kernel's observation shows that calling setup() bound LR",
    ),
    Session(
        "exec_defines_a_name",
        [
            "%load_ext nbtrack",
            "exec('q = 5')",
            "z = 1",
            START,
            "import nbtrack\nnbtrack.log(q=q)",
            STOP,
        ],
        needed={0, 1},
    ),
    Session(
        "shell_command_writes_a_file",
        [
            "%load_ext nbtrack",
            "!echo 7,8,9 > nums.csv",
            "!ls",
            START,
            "import nbtrack\nnums = [int(x) for x in open('nums.csv').read().split(',')]\n"
            "nbtrack.log(total=sum(nums))",
            STOP,
        ],
        needed={0, 1},
        delete_before_reproduce=["nums.csv"],
        note="the file the run reads (without use_input) is made by a shell command",
    ),
    Session(
        "second_run_uses_state_of_the_first",
        [
            "%load_ext nbtrack",
            "%track start suite --name warmup",
            "import nbtrack\nweights = [0.5, 0.25]\nnbtrack.log(w0=weights[0])",
            "%track stop",
            "bias = 1.0",
            START,
            "nbtrack.log(out=sum(weights) + bias)",
            STOP,
        ],
        needed={0, 2, 4},
        note="a cell of the first run is needed; its tracking is switched off in the export",
    ),
    Session(
        "import_alias_and_from_import",
        [
            "%load_ext nbtrack",
            "import statistics as st",
            "from math import floor",
            "import json",
            START,
            "import nbtrack\nnbtrack.log(m=st.mean([1, 2, 6]), f=floor(2.7))",
            STOP,
        ],
        needed={0, 1, 2},
    ),
    # -- issue 13: one session per failure class found on real code
    Session(
        "inplace_augmented_assignment",
        [
            "%load_ext nbtrack",
            "import numpy as np",
            "y = np.arange(5.0)\nnoise = np.ones(5)",
            "y += 5 * noise",
            "cfg = {'k': 1}\nclass Box:\n    pass\nbox = Box()\nbox.v = 1.0",
            "cfg['k'] *= 3\nbox.v += 0.5",
            START,
            "import nbtrack\nnbtrack.log(total=float(y.sum()), k=cfg['k'], v=box.v)",
            STOP,
        ],
        needed={0, 1, 2, 3, 4, 5},
        note="y += ... keeps y's id (no observed binding) but changes the array: a mutation",
    ),
    Session(
        "hidden_numpy_random_state",
        [
            "%load_ext nbtrack",
            "import numpy as np",
            "np.random.seed(0)",
            "warm = np.random.normal(size=3)",
            "print(np.random.random())",
            START,
            "import nbtrack\nx = np.random.normal(size=4)\nnbtrack.log(x=float(x.sum()))",
            STOP,
        ],
        needed={0, 1},
        note="the cells that only advanced the generator are not needed: its state is put back",
    ),
    Session(
        "kept_cell_also_draws_unseeded",
        [
            "%load_ext nbtrack",
            "import numpy as np\nimport random",
            "data = np.random.normal(size=5)",
            "np.random.random(3)\nrandom.random()",
            "def shuffled(a):\n    return a[np.random.permutation(len(a))]",
            "print(shuffled(data)[:2])",
            START,
            "import nbtrack\nnoise = np.random.normal(size=5) + random.random()\n"
            "nbtrack.log(v=float((shuffled(data) * noise).sum()))",
            STOP,
        ],
        needed={0, 1, 2, 4},
        note="no seed anywhere: the kept cell that draws (data) and the run each get the state "
        "they started from back; a draw hidden in a function is seen by the kernel",
    ),
    Session(
        "python_random_before_start",
        [
            "%load_ext nbtrack",
            "import random",
            "random.seed(7)",
            "[random.random() for _ in range(3)]",
            START,
            "import nbtrack\nfor i in range(3):\n    nbtrack.log(r=random.randint(0, 10**6), step=i)",
            STOP,
        ],
        needed={0, 1},
    ),
    Session(
        "method_call_on_a_name_bound_in_the_cell",
        [
            "%load_ext nbtrack",
            "class Model:\n    def fit(self, xs):\n        self.w = sum(xs) / len(xs)\n        return self",
            "model = Model()\nmodel.fit([1.0, 2.0])",
            "model = Model()\nmodel.fit([10.0])",
            "import numpy as np\nbuf = np.zeros(3)\nbuf.fill(2.0)",
            START,
            "import nbtrack\nmodel = Model()\nmodel.fit([3.0, 5.0])\n"
            "buf = np.zeros(2)\nbuf.fill(1.5)\nnbtrack.log(w=model.w, b=float(buf.sum()))",
            STOP,
        ],
        needed={0, 1, 4},
        note="the run binds model and buf itself: the superseded cells are not needed, and no "
        "'names no recorded cell defines' warning appears",
    ),
    Session(
        "run_cell_reads_globals",
        [
            "%load_ext nbtrack",
            "a = 1.5",
            "b = 2.5",
            "name = 'x'",
            START,
            "import nbtrack\nfor k, v in list(globals().items()):\n"
            "    if isinstance(v, float) and not k.startswith('_'):\n        nbtrack.log({k: v})",
            STOP,
        ],
        needed={0, 1, 2, 3},
        note="a 'log every float' cell reads every name",
    ),
    Session(
        "run_cell_whos",
        [
            "%load_ext nbtrack",
            "c = 3",
            START,
            "%whos",
            "import nbtrack\nnbtrack.log(one=1)",
            STOP,
        ],
        needed={0, 1},
        note="%whos shows every live name: they are all needed",
    ),
    Session(
        "pure_library_calls",
        [
            "%load_ext nbtrack",
            "import numpy as np\nimport polars as pl",
            "X = np.array([3.0, 1.0, 2.0])\ndf = pl.DataFrame({'a': [3, 1, 2]})",
            "s = np.sort(X)\nm = np.mean(X)\nn = len(X)\nsrt = sorted(X)\nq = df.sort('a')\n"
            "print(s, m, n, srt, q)",
            START,
            "import nbtrack\nnbtrack.log(x0=float(X[0]), a0=df['a'][0])",
            STOP,
        ],
        needed={0, 1, 2},
        note="np.sort, np.mean, len, sorted and polars' sort return new objects",
    ),
    Session(
        "function_defined_and_called_in_the_run_cell",
        [
            "%load_ext nbtrack",
            "mod = {'slope': 2.0}",
            "mod = {'slope': 3.0}",
            START,
            "def fit(q):\n    return mod['slope'] * q\n\nfits = [fit(q) for q in (1, 2)]\n"
            "import nbtrack\nnbtrack.log(s=sum(fits))",
            STOP,
        ],
        needed={0, 2},
        note="the globals a function reads count where it is called, in its own cell too",
    ),
]
