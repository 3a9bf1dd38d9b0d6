"""The files engineers have: tests/data/formats, each read into the canonical tensors.

``canonical.csv`` is the reference (mfgp's own layout); every other file holds the same runs in
another layout and must give the same ``X`` and ``Y`` once converted, with the conversion named
in ``data.conversions``. ``canonical_levels.csv`` is the long-layout reference of
``wide_cheap_levels.csv``. ``excel.xlsx`` was made from ``canonical.csv`` with::

    import pandas as pd

    frame = pd.read_csv("tests/data/formats/canonical.csv")
    with pd.ExcelWriter("tests/data/formats/excel.xlsx") as out:
        frame.to_excel(out, sheet_name="runs", index=False)
        notes = pd.DataFrame({"note": ["the runs of canonical.csv"]})
        notes.to_excel(out, sheet_name="notes", index=False)
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from mfgp.data import ScaleUpData
from mfgp.exceptions import InputDataError

FORMATS = Path(__file__).resolve().parent / "data" / "formats"

EXPLICIT = {
    "volume_col": "Reactor size (mL)",
    "time_col": "Hours since inoculation",
    "run_col": "Experiment",
    "fidelity_col": "Data source",
}

#: file -> (ScaleUpData options, fragments of data.conversions)
VARIANTS = {
    "units_m3_days.csv": (
        {},
        [
            "volume column 'Working volume [m3]' read as m3, converted to litres",
            "time column 'Time (d)' read as days, converted to hours",
        ],
    ),
    "decimal_comma_semicolon.csv": ({}, ["decimal commas read as decimal points", "'0,112'"]),
    "explicit_columns.csv": (
        EXPLICIT,
        [
            "volume column 'Reactor size (mL)' (named by volume_col) read as mL, converted to "
            "litres",
            "time column 'Hours since inoculation' (named by time_col) read as hours",
            "run column 'Experiment' (named by run_col) read as run_id",
            "fidelity column 'Data source' (named by fidelity_col)",
        ],
    ),
    "excel.xlsx": ({}, ["sheet 'runs' of the Excel workbook excel.xlsx read"]),
}


@pytest.fixture(scope="module")
def canonical() -> ScaleUpData:
    return ScaleUpData(FORMATS / "canonical.csv", target="titer")


def _same_tensors(data: ScaleUpData, reference: ScaleUpData) -> None:
    assert data.feature_names == reference.feature_names
    assert data.fidelity_names == reference.fidelity_names
    torch.testing.assert_close(data.X, reference.X, rtol=1e-12, atol=0.0)
    torch.testing.assert_close(data.Y, reference.Y, rtol=1e-12, atol=0.0)


def test_every_file_is_tested():
    files = {p.name for p in FORMATS.iterdir()}
    tested = {"canonical.csv", "canonical_levels.csv", "wide_cheap_levels.csv"}
    tested |= {"categorical_cell_line.csv"} | set(VARIANTS)
    assert files == tested


def test_the_canonical_file_converts_nothing(canonical):
    assert canonical.conversions == []
    assert canonical.categories == {}
    assert canonical.feature_names == ["log10_volume_L", "time_h", "rpm"]
    assert canonical.volumes().tolist() == [2.0, 20.0, 200.0, 2000.0]


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variant_gives_the_canonical_tensors(name, canonical, caplog):
    options, fragments = VARIANTS[name]
    with caplog.at_level(logging.INFO, logger="mfgp.data"):
        data = ScaleUpData(FORMATS / name, target="titer", **options)
    _same_tensors(data, canonical)
    assert data.frame["run_id"].tolist() == canonical.frame["run_id"].tolist()
    text = "\n".join(data.conversions)
    for fragment in fragments:
        assert fragment in text, f"{fragment!r} not in {text!r}"
    assert [r.getMessage() for r in caplog.records] == data.conversions  # each logged at INFO
    assert data.validation_warnings == []


def test_subsets_keep_the_conversions(canonical):
    data = ScaleUpData(FORMATS / "units_m3_days.csv", target="titer")
    train, test = data.holdout_largest(1)
    assert train.conversions == data.conversions == test.conversions
    assert data.to(dtype=torch.float32).conversions == data.conversions


def test_explicit_columns_are_needed():
    with pytest.raises(InputDataError, match="no volume column"):
        ScaleUpData(FORMATS / "explicit_columns.csv", target="titer")


def test_wide_cheap_levels_give_the_long_layout():
    data = ScaleUpData(
        FORMATS / "wide_cheap_levels.csv",
        target="titer",
        low_fidelity_cols=["sim_titer", "law_titer"],
    )
    order = ["sim_titer", "law_titer", "measured"]
    reference = ScaleUpData(FORMATS / "canonical_levels.csv", target="titer", fidelity_order=order)
    _same_tensors(data, reference)
    assert data.fidelity_names == order
    assert data.frame["run_id"].tolist() == reference.frame["run_id"].tolist()
    assert "cheap levels in columns ['sim_titer', 'law_titer']" in data.conversions[0]
    assert data.operating_names == ["rpm"]  # the cheap columns are no operating variables
    # the production-scale rows without a measurement give cheap rows only
    assert data.volumes("sim_titer").max() == 20000.0 and data.volumes().max() == 2000.0


def test_categorical_cell_line(canonical):
    data = ScaleUpData(
        FORMATS / "categorical_cell_line.csv", target="titer", categorical=["cell_line"]
    )
    assert data.categories == {"cell_line": ["CHO-K1", "CHO-S"]}
    assert data.operating_names == ["rpm", "cell_line=CHO-K1", "cell_line=CHO-S"]
    lines = pd.read_csv(FORMATS / "categorical_cell_line.csv")["cell_line"]
    onehot = torch.tensor(
        np.stack([(lines == "CHO-K1"), (lines == "CHO-S")], axis=-1), dtype=torch.float64
    )
    expected = torch.cat([canonical.X[:, :3], onehot, canonical.X[:, 3:]], dim=-1)
    torch.testing.assert_close(data.X, expected, rtol=1e-12, atol=0.0)
    torch.testing.assert_close(data.Y, canonical.Y)
    assert "categorical column 'cell_line' encoded as 2 indicator columns" in data.conversions[0]
    train, _ = data.holdout_largest(1)
    assert train.categories == data.categories and train.conversions == data.conversions


def test_categorical_new_points_by_level():
    data = ScaleUpData(
        FORMATS / "categorical_cell_line.csv", target="titer", categorical=["cell_line"]
    )
    new = pd.DataFrame(
        {"volume_L": [1e4, 1e4], "time_h": [48.0, 48.0], "rpm": [150.0, 150.0],
         "cell_line": ["CHO-S", "CHO-K1"]}
    )  # fmt: skip
    X = data.encode(new)
    assert X[:, 3:5].tolist() == [[0.0, 1.0], [1.0, 0.0]]
    assert X[0, 0] == 4.0 and X[0, -1] == data.top_fidelity
    by_indicators = new.drop(columns="cell_line").assign(
        **{"cell_line=CHO-K1": [0.0, 1.0], "cell_line=CHO-S": [1.0, 0.0]}
    )
    assert torch.equal(data.encode(by_indicators), X)
    pattern = r"unknown level 'HEK293' of categorical column 'cell_line'.*\['CHO-K1', 'CHO-S'\]"
    with pytest.raises(InputDataError, match=pattern):
        data.encode(new.assign(cell_line=["CHO-S", "HEK293"]))
    with pytest.raises(InputDataError, match="lack the categorical column 'cell_line'"):
        data.encode(new.drop(columns="cell_line"))


def test_new_points_in_the_users_own_columns(canonical):
    points = canonical.frame[["volume_L", "time_h", "rpm"]]
    X = canonical.encode(points)
    units = ScaleUpData(FORMATS / "units_m3_days.csv", target="titer")
    own = pd.DataFrame(
        {
            "Working volume [m3]": points["volume_L"] / 1000,
            "Time (d)": points["time_h"] / 24,
            "rpm": points["rpm"],
        }
    )
    torch.testing.assert_close(units.encode(own), X, rtol=1e-12, atol=0.0)
    torch.testing.assert_close(units.encode(points), X)  # canonical names still work
    explicit = ScaleUpData(FORMATS / "explicit_columns.csv", target="titer", **EXPLICIT)
    mine = pd.DataFrame(
        {
            "Reactor size (mL)": points["volume_L"] * 1000,
            "Hours since inoculation": points["time_h"],
            "rpm": points["rpm"],
        }
    )
    torch.testing.assert_close(explicit.encode(mine), X, rtol=1e-12, atol=0.0)


def test_excel_from_a_dataframe(tmp_path, canonical):
    frame = pd.read_csv(FORMATS / "canonical.csv")
    path = tmp_path / "runs.xlsx"
    with pd.ExcelWriter(path) as out:
        pd.DataFrame({"note": ["read me"]}).to_excel(out, sheet_name="notes", index=False)
        frame.rename(columns={"volume_L": "Volume (L)", "time_h": "Time [h]"}).to_excel(
            out, sheet_name="data", index=False
        )
    for sheet in ("data", 1, "1"):
        data = ScaleUpData(path, target="titer", sheet=sheet)
        _same_tensors(data, canonical)
        assert "sheet 'data' of the Excel workbook runs.xlsx read" in data.conversions
    with pytest.raises(InputDataError, match=r"target column 'titer' does not exist"):
        ScaleUpData(path, target="titer")  # the first sheet holds the notes
    with pytest.raises(
        InputDataError, match=r"has no sheet 'runs'; its sheets are \['notes', 'data'\]"
    ):
        ScaleUpData(path, target="titer", sheet="runs")


def test_excel_rows_are_named_by_sheet_row(tmp_path):
    frame = pd.read_csv(FORMATS / "canonical.csv").astype({"titer": object})
    frame.loc[3, "titer"] = "n/a"
    path = tmp_path / "bad.xlsx"
    frame.to_excel(path, index=False)
    with pytest.raises(InputDataError, match=r"rows \[3\] \(0-based data rows; sheet rows 5\)"):
        ScaleUpData(path, target="titer")


def test_old_excel_and_broken_workbooks_are_errors(tmp_path):
    xls = tmp_path / "old.xls"
    xls.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(
        InputDataError, match=r"old Excel workbook \(.xls\).*save it as .*\(.xlsx\) or as CSV"
    ):
        ScaleUpData(xls, target="titer")
    fake = tmp_path / "fake.xlsx"
    fake.write_text("V,t,C\n1,2,3\n")
    with pytest.raises(InputDataError, match="could not be opened as one"):
        ScaleUpData(fake, target="titer")
    with pytest.raises(InputDataError, match="is for Excel workbooks"):
        ScaleUpData(FORMATS / "canonical.csv", target="titer", sheet="runs")


# --------------------------------------------------------------------- command line
def test_cli_run_with_the_column_flags(tmp_path, capsys):
    from mfgp.cli import main

    argv = ["run", "--data", str(FORMATS / "explicit_columns.csv"), "--target", "titer"]
    argv += ["--model", "ridge", "--out", str(tmp_path / "out")]
    for option, name in EXPLICIT.items():
        argv += [f"--{option.replace('_', '-')}", name]
    assert main(argv) == 0, capsys.readouterr().err
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["data"]["test_volumes_L"] == [2000.0]


def test_cli_run_with_cheap_levels_in_columns(tmp_path, capsys):
    from mfgp.cli import main

    argv = ["run", "--data", str(FORMATS / "wide_cheap_levels.csv"), "--target", "titer"]
    argv += ["--model", "ridge", "--low-fidelity-col", "sim_titer,law_titer"]
    argv += ["--out", str(tmp_path / "out")]
    assert main(argv) == 0, capsys.readouterr().err
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["data"]["fidelities"] == ["sim_titer", "law_titer", "measured"]


def test_cli_missing_explicit_column_is_one_line(tmp_path, capsys):
    from mfgp.cli import main

    argv = ["run", "--data", str(FORMATS / "canonical.csv"), "--target", "titer"]
    argv += ["--model", "ridge", "--volume-col", "Size", "--out", str(tmp_path / "out")]
    assert main(argv) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert (
        "volume column 'Size' (given by --volume-col, volume_col= in Python) does not " in lines[0]
    )
    assert "available columns: ['run_id', 'volume_L', 'time_h', 'rpm', 'titer']" in lines[0]


def test_data_arguments_become_scaleupdata_options():
    from mfgp.cli import add_data_arguments, data_options

    parser = argparse.ArgumentParser()
    add_data_arguments(parser)
    args = parser.parse_args(
        ["--volume-col", "Size (mL)", "--time-col", "Age", "--run-col", "Batch no",
         "--fidelity-col", "Kind", "--decimal", ",", "--sheet", "runs",
         "--low-fidelity-col", "sim,law", "--low-fidelity-col", "cfd",
         "--categorical", "cell_line", "--ignore", "notes", "--features", "rpm",
         "--fidelity-order", "sim,law,cfd,measured", "--max-rows-per-level", "100"]
    )  # fmt: skip
    assert data_options(args) == {
        "fidelity_order": ["sim", "law", "cfd", "measured"],
        "features": ["rpm"],
        "ignore": ["notes"],
        "volume_col": "Size (mL)",
        "time_col": "Age",
        "run_col": "Batch no",
        "fidelity_col": "Kind",
        "decimal": ",",
        "sheet": "runs",
        "low_fidelity_cols": ["sim", "law", "cfd"],
        "categorical": ["cell_line"],
        "max_rows_per_level": 100,
    }
    defaults = data_options(parser.parse_args([]))
    assert defaults.pop("ignore") == [] and set(defaults.values()) == {None}
    options = {k: v for k, v in data_options(parser.parse_args([])).items()}
    options.pop("max_rows_per_level")
    ScaleUpData(FORMATS / "canonical.csv", target="titer", **options)  # every key is an option
