"""Atomic writes, the never-overwrite-the-input guard and version stamps."""

from __future__ import annotations

import json
import os
import subprocess

import pandas as pd
import pytest
import torch

from mfgp import io
from mfgp.exceptions import InputDataError, OutputError


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


# ------------------------------------------------------------ transactional output folders
def _snapshot(folder):
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def _earlier_output(folder):
    with io.output_folder(folder, command="test") as tmp:
        (tmp / "metrics.json").write_text('{"old": 1}')
        (tmp / "figures").mkdir()
        (tmp / "figures" / "stale.png").write_bytes(b"png")
        (tmp / "suggestions.csv").write_text("a\n1\n")
    return _snapshot(folder)


def test_output_folder_replaces_an_earlier_output_whole(tmp_path):
    out = tmp_path / "out"
    _earlier_output(out)
    with io.output_folder(out, command="test") as tmp:
        assert tmp.parent == out.parent and tmp != out
        (tmp / "metrics.json").write_text('{"new": 1}')
    assert json.loads((out / "metrics.json").read_text()) == {"new": 1}
    assert not (out / "figures").exists() and not (out / "suggestions.csv").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporary folders left


@pytest.mark.parametrize("error", [RuntimeError("fit failed"), KeyboardInterrupt()])
def test_output_folder_keeps_the_earlier_output_on_failure(tmp_path, error):
    out = tmp_path / "out"
    before = _earlier_output(out)
    with pytest.raises(type(error)):
        with io.output_folder(out) as tmp:
            (tmp / "metrics.json").write_text('{"half": 1}')
            raise error
    assert _snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_output_folder_refuses_bad_destinations_before_any_work(tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("V,C\n1,2\n")
    (tmp_path / "file.txt").write_text("x")
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.docx").write_text("x")
    cases = [
        (data, "is the input file"),
        (tmp_path, "contains the input file"),
        (tmp_path / "file.txt", "is a file"),
        (foreign, "holds files that mfgp did not write \\(thesis.docx\\)"),
    ]
    for out, words in cases:
        with pytest.raises(InputDataError, match=words):
            with io.output_folder(out, inputs=[data]):
                pytest.fail("the block must not run")
    assert (foreign / "thesis.docx").read_text() == "x" and data.read_text() == "V,C\n1,2\n"
    io.check_output_folder(tmp_path / "new" / "out", [data])  # a new folder is fine


def test_unwritable_destination_is_one_clear_error(tmp_path, monkeypatch):
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(
        OutputError, match="cannot write .*file.txt/out: .*file.txt is a file, not a folder"
    ):
        with io.output_folder(tmp_path / "file.txt" / "out"):
            pass

    def read_only(*args, **kwargs):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(io.tempfile, "mkdtemp", read_only)
    with pytest.raises(OutputError, match="Read-only file system; choose a writable folder"):
        with io.output_folder(tmp_path / "out"):
            pass
    monkeypatch.setattr(io.tempfile, "mkstemp", read_only)
    with pytest.raises(OutputError, match="cannot write .*x.csv: Read-only file system"):
        io.atomic_write_text(tmp_path / "x.csv", "a")


def test_read_only_destination_is_refused_before_any_work(tmp_path, monkeypatch):
    """check_output_folder is what commands call before fitting: it must already see that the
    place cannot be written."""
    calls = []

    def read_only(*args, **kwargs):
        calls.append(kwargs.get("dir"))
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(io.tempfile, "mkdtemp", read_only)
    with pytest.raises(OutputError, match="cannot write .*deep/out: Read-only file system"):
        io.check_output_folder(tmp_path / "deep" / "out")
    assert calls == [tmp_path]  # probed at the nearest folder that exists
    assert not (tmp_path / "deep").exists()  # nothing created by the check
