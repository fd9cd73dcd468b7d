"""Values people really log keep their shape (nbtrack/values.py): configs as dicts by
alias, numbers as numbers, and a clear error naming the key for anything else."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import uuid
from decimal import Decimal
from pathlib import Path, PurePosixPath

import attrs
import numpy as np
import pydantic
import pytest
from pydantic import v1 as pydantic_v1

import nbtrack
from nbtrack.errors import ValueTypeError
from nbtrack.values import MAX_ITEMS, to_json


class Optim(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(populate_by_name=True)
    name: str = "adam"
    beta_one: float = pydantic.Field(0.9, alias="beta1")


class Cfg(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(populate_by_name=True)
    learning_rate: float = pydantic.Field(0.1, alias="lr")
    optim: Optim = Optim()
    layers: list[int] = [64, 32]


class CfgV1(pydantic_v1.BaseModel):
    learning_rate: float = pydantic_v1.Field(0.1, alias="lr")

    class Config:
        allow_population_by_field_name = True


@dataclasses.dataclass
class Data:
    path: Path
    batch: int = 32


@attrs.define
class Aug:
    flip: bool = True
    scale: float = 1.5


class Mode(enum.Enum):
    FAST = "fast"


def test_pydantic_models_are_dumped_by_alias_and_flattened_into_params():
    with nbtrack.start_run("exp", params={"cfg": Cfg()}) as run:
        run.log_params(CfgV1(learning_rate=0.5))  # a model on its own is the params dict
        run.log_metadata({"config": Cfg(learning_rate=0.2)})
    log = nbtrack.get_run(run.id)
    assert log["params"] == {
        "cfg.lr": 0.1, "cfg.optim.name": "adam", "cfg.optim.beta1": 0.9,
        "cfg.layers": [64, 32], "lr": 0.5,
    }
    assert log["metadata"]["config"] == {
        "lr": 0.2, "optim": {"name": "adam", "beta1": 0.9}, "layers": [64, 32],
    }


def test_dataclasses_and_attrs_classes_are_dicts_of_their_fields():
    with nbtrack.start_run("exp") as run:
        run.log_params({"data": Data(Path("data") / "train.csv"), "aug": Aug()})
        run.log_metadata(Data(PurePosixPath("/mnt/x"), batch=8))
    log = nbtrack.get_run(run.id)
    assert log["params"] == {"data.path": "data/train.csv", "data.batch": 32,
                             "aug.flip": True, "aug.scale": 1.5}
    assert log["metadata"] == {"path": "/mnt/x", "batch": 8}


def test_numpy_scalars_are_numbers_and_small_arrays_lists():
    value = {"f32": np.float32(0.5), "i64": np.int64(3), "flag": np.bool_(True),
             "zero_d": np.array(2.5), "vec": np.arange(3), "grid": np.eye(2, dtype=np.int8)}
    with nbtrack.start_run("exp", params=value) as run:
        pass
    params = nbtrack.get_run(run.id)["params"]
    assert params == {"f32": 0.5, "i64": 3, "flag": True, "zero_d": 2.5, "vec": [0, 1, 2],
                      "grid": [[1, 0], [0, 1]]}
    assert {type(params[k]) for k in ("f32", "i64", "flag")} == {float, int, bool}
    with pytest.raises(ValueTypeError, match=r"param 'weights' is a numpy.ndarray .* of 1,001 items"):
        to_json(np.zeros(MAX_ITEMS + 1), "param 'weights'")


class TensorLike:
    """Shaped like torch.Tensor where nbtrack looks (numel/shape/item/tolist): torch itself
    is too big for the test extra."""

    __module__ = "torch"

    def __init__(self, data):
        self.data = data

    @property
    def shape(self):
        return () if not isinstance(self.data, list) else (len(self.data),)

    def numel(self):
        return 1 if not isinstance(self.data, list) else len(self.data)

    def size(self):  # torch: the shape, not a count
        return self.shape

    def item(self):
        return self.data

    def tolist(self):
        return self.data


def test_tensor_scalars_are_numbers_and_small_tensors_lists():
    assert to_json({"loss": TensorLike(0.25), "w": TensorLike([1.0, 2.0])}) == {
        "loss": 0.25, "w": [1.0, 2.0]}


def test_real_torch_scalars_and_tensors():
    torch = pytest.importorskip("torch")  # scripts/test.sh installs the CPU wheel where the machine has it
    got = to_json({"loss": torch.tensor(0.25), "step": torch.tensor(3), "w": torch.tensor([1.0, 2.0]),
                   "m": torch.eye(2, dtype=torch.int64)})
    assert got == {"loss": 0.25, "step": 3, "w": [1.0, 2.0], "m": [[1, 0], [0, 1]]}
    assert type(got["loss"]) is float and type(got["step"]) is int
    with pytest.raises(ValueTypeError, match="1,001 items"):
        to_json(torch.zeros(MAX_ITEMS + 1), "param 'weights'")


def test_paths_times_enums_sets_and_friends():
    when = dt.datetime(2024, 1, 9, 5, 44, 42, tzinfo=dt.timezone.utc)
    got = to_json({"p": Path("a") / "b", "t": when, "d": dt.date(2024, 1, 9),
                   "dur": dt.timedelta(minutes=1, seconds=30), "mode": Mode.FAST,
                   "s": {3, 1, 2}, "dec": Decimal("0.25"),
                   "id": uuid.UUID(int=1), "tup": (1, "x")})
    assert got == {"p": "a/b", "t": "2024-01-09T05:44:42+00:00", "d": "2024-01-09",
                   "dur": 90.0, "mode": "fast", "s": [1, 2, 3], "dec": 0.25,
                   "id": "00000000-0000-0000-0000-000000000001", "tup": [1, "x"]}


def test_a_value_with_no_json_form_is_an_error_naming_its_key():
    with nbtrack.start_run("exp") as run:
        with pytest.raises(ValueTypeError, match=r"param 'opt.thing' is an object \(<object"):
            run.log_params({"opt": {"thing": object()}})
        with pytest.raises(ValueTypeError, match=r"param 'layers'\[1\] is a bytes"):
            run.log_params({"layers": [1, b"raw"]})
        with pytest.raises(ValueTypeError, match=r"metadata 'hw.probe' is a function"):
            run.log_metadata({"hw": {"probe": lambda: 1}})
        with pytest.raises(TypeError, match="log_params takes a dict"):
            run.log_params(42)
        run.log_params({"kept": 1})
    assert nbtrack.get_run(run.id)["params"] == {"kept": 1}  # refused calls left nothing
    with pytest.raises(ValueTypeError, match="param 'bad'"):
        nbtrack.start_run("exp", params={"bad": object()})
    assert isinstance(ValueTypeError("x"), TypeError)
