"""Atomic writes and the never-overwrite-the-input guard."""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest
import torch

from mfgp import io
from mfgp.exceptions import InputDataError


def test_atomic_writes_leave_no_temp_files(tmp_path):
    io.atomic_write_text(tmp_path / "a" / "x.txt", "hello")
    io.atomic_write_json(tmp_path / "x.json", {"a": float("nan"), "b": torch.tensor([1.0])})
    io.atomic_write_csv(tmp_path / "x.csv", pd.DataFrame({"a": [1, 2]}))
    io.atomic_torch_save(tmp_path / "x.pt", {"t": torch.ones(2)})
    assert (tmp_path / "a" / "x.txt").read_text() == "hello"
    assert json.loads((tmp_path / "x.json").read_text()) == {"a": None, "b": [1.0]}
    assert pd.read_csv(tmp_path / "x.csv")["a"].tolist() == [1, 2]
    assert torch.equal(torch.load(tmp_path / "x.pt")["t"], torch.ones(2))
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "x.csv").stat().st_mode & 0o777 == 0o666 & ~mask


def test_failed_write_keeps_old_file(tmp_path):
    target = tmp_path / "x.json"
    io.atomic_write_text(target, "old")

    class Boom:
        pass

    with pytest.raises(TypeError):
        io.atomic_write_json(target, {"x": Boom()})
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["x.json"]


def test_check_not_input(tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("x")
    io.check_not_input([tmp_path / "out" / "m.json"], [data])
    with pytest.raises(InputDataError, match="would overwrite the input"):
        io.check_not_input([data], [data])


def test_versions():
    v = io.versions()
    assert {"mfgp", "torch", "gpytorch", "botorch", "python"} <= set(v)
