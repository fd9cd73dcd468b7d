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
]
