"""Atomic writes, the never-overwrite-the-input guard and version stamps."""

from __future__ import annotations

import json
import os
import subprocess

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
    assert {"mfgp", "mfgp_revision", "torch", "gpytorch", "botorch", "python"} <= set(v)


def test_source_revision(tmp_path):
    assert io.source_revision(tmp_path) == "unknown"  # no source tree
    (tmp_path / "pyproject.toml").write_text("[project]\n")
    assert io.source_revision(tmp_path) == "unknown"  # a source tree, not a git checkout
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "pyproject.toml"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "c"], check=True)
    head = subprocess.run(
        [*git, "rev-parse", "--short", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    assert io.source_revision(tmp_path) == head
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    assert io.source_revision(tmp_path) == head + "-dirty"
    (tmp_path / "untracked.txt").write_text("new")  # untracked files do not count
    subprocess.run([*git, "commit", "-q", "-am", "d"], check=True)
    assert not io.source_revision(tmp_path).endswith("-dirty")
