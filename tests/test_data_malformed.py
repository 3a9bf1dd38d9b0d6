"""The malformed-input corpus of tests/data/malformed: every file, its outcome and its message.

The expectations are the table of tests/data/malformed/README.md: error files go through the
command line (status 2, one ``error: ...`` line); warning and valid files are loaded directly.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pandas as pd
import pytest
import torch

from mfgp.cli import main
from mfgp.data import ScaleUpData
from mfgp.exceptions import DataWarning

CORPUS = Path(__file__).resolve().parent / "data" / "malformed"

#: the six rows most corpus files are made of (what the valid files must read as).
BASE = pd.DataFrame(
    {
        "run_id": ["A", "A", "B", "B", "C", "C"],
        "volume_L": [2.0, 2.0, 20.0, 20.0, 200.0, 200.0],
        "time_h": [0.0, 24.0, 0.0, 24.0, 0.0, 24.0],
        "rpm": [800.0, 800.0, 500.0, 500.0, 300.0, 300.0],
        "titer": [0.1, 2.5, 0.1, 2.2, 0.1, 1.9],
    }
)

#: files holding exactly BASE once the harmless problems are dealt with.
SAME_AS_BASE = {
    "all_empty_column.csv",
    "bom.csv",
    "crlf.csv",
    "decimal_comma.csv",
    "semicolon.csv",
    "separator_only_rows.csv",
    "tab.csv",
    "time_with_unit.csv",
    "trailing_commas.csv",
    "trailing_commas_rows_only.csv",
    "utf16_tab.csv",
    "whitespace_padding.csv",
}


def _cases() -> dict[str, tuple[str, list[str]]]:
    """README table: file -> (outcome, fragments the message must contain)."""
    cases = {}
    for line in (CORPUS / "README.md").read_text(encoding="utf-8").splitlines():
        if not line.startswith("| `"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        assert len(cells) == 4, line
        cases[cells[0].strip("`")] = (cells[2], re.findall(r"`([^`]+)`", cells[3]))
    return cases


CASES = _cases()


def _named(outcome: str) -> list[str]:
    return sorted(name for name, (kind, _) in CASES.items() if kind == outcome)


def test_readme_table_lists_every_file():
    files = {p.name for p in CORPUS.iterdir() if p.name != "README.md"}
    assert files == set(CASES)
    assert len(files) >= 40
    assert {kind for kind, _ in CASES.values()} == {"error", "warning", "valid"}
    assert all(words for kind, words in CASES.values() if kind != "valid")
    assert SAME_AS_BASE <= set(_named("valid")) | set(_named("warning"))


@pytest.mark.parametrize("name", _named("error"))
def test_error_files_exit_2_with_one_line(name, tmp_path, capsys):
    argv = ["run", "--data", str(CORPUS / name), "--target", "titer", "--model", "gp"]
    argv += ["--model-option", "restarts=1", "--out", str(tmp_path / "out")]
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for words in CASES[name][1]:
        assert words in lines[0], f"{words!r} not in {lines[0]!r}"


@pytest.mark.parametrize("name", _named("warning"))
def test_warning_files_load_and_warn(name):
    with pytest.warns(DataWarning) as record:
        data = ScaleUpData(CORPUS / name, target="titer")
    messages = [str(w.message) for w in record if issubclass(w.category, DataWarning)]
    assert data.validation_warnings == messages
    text = "\n".join(messages)
    for words in CASES[name][1]:
        assert words in text, f"{words!r} not in {text!r}"


@pytest.mark.parametrize("name", _named("valid"))
def test_valid_files_load_without_warnings(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        data = ScaleUpData(CORPUS / name, target="titer")
    assert data.validation_warnings == []
    assert len(data) == 6


@pytest.mark.parametrize("name", sorted(SAME_AS_BASE))
def test_harmless_problems_give_the_base_tensors(name):
    base = ScaleUpData(BASE, target="titer")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        data = ScaleUpData(CORPUS / name, target="titer")
    assert data.feature_names == base.feature_names
    assert torch.equal(data.X, base.X) and torch.equal(data.Y, base.Y)
    assert data.frame["run_id"].tolist() == BASE["run_id"].tolist()


def test_latin1_text_is_decoded():
    data = ScaleUpData(CORPUS / "latin1.csv", target="titer")
    assert data.frame["run_id"].iloc[0] == "Müller"
    assert "temp_°C" in data.feature_names
