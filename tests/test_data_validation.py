"""The validation summary at load: each warning and error names its column, rows and values."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mfgp
from mfgp.data import ScaleUpData
from mfgp.data.validation import RowNames
from mfgp.exceptions import DataWarning, InputDataError, MFGPWarning


def _frame() -> pd.DataFrame:
    """Eight rows at four volumes, two times, one operating variable that varies."""
    return pd.DataFrame(
        {
            "run_id": ["a", "a", "b", "b", "c", "c", "d", "d"],
            "V": [1.0, 1.0, 10.0, 10.0, 100.0, 100.0, 1000.0, 1000.0],
            "t": [0.0, 5.0] * 4,
            "rpm": [300.0, 300.0, 400.0, 400.0, 500.0, 500.0, 600.0, 600.0],
            "C": [0.1, 2.0, 0.2, 1.8, 0.1, 1.7, 0.3, 1.5],
        }
    )


def _quiet(frame: pd.DataFrame | str, **kwargs) -> ScaleUpData:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return ScaleUpData(frame, **kwargs)


def test_data_warning_is_exported():
    assert mfgp.DataWarning is DataWarning and "DataWarning" in mfgp.__all__
    assert issubclass(DataWarning, MFGPWarning)


def test_clean_data_warn_nothing():
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        data = ScaleUpData(_frame(), target="C")
    assert data.validation_warnings == []


def test_row_names():
    assert RowNames()([3, 4]) == "rows [3, 4] (0-based data rows)"
    assert RowNames((2, 3, 6))([0, 2]) == "rows [0, 2] (0-based data rows; file lines 2, 6)"
    many = RowNames()(range(10))
    assert many == "rows [0, 1, 2, 3, 4, 5, 6, 7 and 2 more] (0-based data rows)"


# ------------------------------------------------------------------ warnings
def test_duplicate_rows_warn_and_are_kept():
    frame = pd.concat([_frame(), _frame().iloc[[0, 2]]], ignore_index=True)
    pattern = (
        r"rows \[8, 9\] \(0-based data rows\) repeat rows \[0, 2\] \(0-based data rows\) "
        r"exactly: remove them if they were pasted twice"
    )
    with pytest.warns(DataWarning, match=pattern):
        data = ScaleUpData(frame, target="C")
    assert len(data) == 10
    assert len(data.validation_warnings) == 1


def test_rows_differing_in_one_cell_are_not_duplicates():
    frame = pd.concat([_frame(), _frame().iloc[[0]].assign(C=0.11)], ignore_index=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        ScaleUpData(frame, target="C")


@pytest.mark.parametrize(
    ("column", "role", "value"),
    [
        ("C", "target", 5e7),
        ("rpm", "operating-variable", 1e9),
        ("t", "time", 1e8),
        ("yvar", "noise-variance", 1e5),
    ],
)
def test_values_far_outside_their_scale_warn(column, role, value):
    frame = _frame().assign(yvar=0.01)
    frame.loc[3, column] = value
    pattern = (
        rf"{role} column '{column}' has values over 1e6 times its median magnitude .* at rows "
        rf"\[3\] \(0-based data rows\): {value!r}; check the units or a typo"
    )
    with pytest.warns(DataWarning, match=pattern):
        ScaleUpData(frame, target="C", yvar_column="yvar")


def test_volumes_spanning_decades_do_not_warn():
    frame = _frame()
    frame["V"] = [0.015] * 6 + [20000.0, 50000.0]  # microbioreactors to production
    assert not _quiet(frame, target="C").validation_warnings


def test_zeros_are_left_out_of_the_median():
    frame = _frame().assign(C=[0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 5e6])
    with pytest.warns(DataWarning, match=r"target column 'C'.*rows \[7\]"):
        ScaleUpData(frame, target="C")
    zeros = _frame().assign(C=0.0)
    assert not [m for m in _quiet(zeros, target="C").validation_warnings if "median" in m]


def test_constant_operating_variable_warns_and_is_kept():
    frame = _frame().assign(pH=7.0)
    pattern = (
        r"column 'pH' has the same value \(7\.0\) in every row: it carries no information; "
        r"drop it with --ignore pH \(ignore=\['pH'\] in Python\)"
    )
    with pytest.warns(DataWarning, match=pattern):
        data = ScaleUpData(frame, target="C")
    assert "pH" in data.operating_names
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        ScaleUpData(frame, target="C", ignore=["pH"])


def test_empty_columns_are_dropped_with_a_warning():
    frame = _frame().assign(notes=np.nan, comment="  ")
    with pytest.warns(
        DataWarning, match=r"columns 'notes', 'comment' are empty in every row; dropped"
    ):
        data = ScaleUpData(frame, target="C")
    assert "notes" not in data.frame.columns and data.feature_names[-1] == "rpm"
    with pytest.warns(DataWarning, match=r"^column 'notes' is empty in every row; dropped$"):
        ScaleUpData(_frame().assign(notes=None), target="C")


def test_empty_required_columns_are_errors():
    with pytest.raises(InputDataError, match="target column 'C' is empty in every row"):
        ScaleUpData(_frame().assign(C=np.nan), target="C")
    with pytest.raises(InputDataError, match="volume column 'V' is empty in every row"):
        ScaleUpData(_frame().assign(V=np.nan), target="C")
    with pytest.raises(InputDataError, match="operating-variable column 'rpm' is empty"):
        ScaleUpData(_frame().assign(rpm=np.nan), target="C", features=["rpm"])
    with pytest.raises(InputDataError, match="noise-variance column 'yvar' is empty"):
        ScaleUpData(_frame().assign(yvar=np.nan), target="C", yvar_column="yvar")


def test_separator_only_rows_are_dropped_partial_rows_are_errors(tmp_path):
    frame = _frame()
    empty = pd.DataFrame(np.nan, index=[0, 1], columns=frame.columns)
    padded = pd.concat([frame.iloc[:3], empty, frame.iloc[3:]], ignore_index=True)
    with pytest.warns(DataWarning, match=r"rows \[3, 4\] \(0-based data rows\) are empty in "):
        data = ScaleUpData(padded, target="C")
    assert torch.equal(data.X, ScaleUpData(frame, target="C").X)
    path = tmp_path / "d.csv"
    path.write_text(frame.to_csv(index=False) + ",,,,\n,,,,\n")
    with pytest.warns(DataWarning, match=r"rows \[8, 9\] \(0-based data rows; file lines 10, 11"):
        ScaleUpData(path, target="C")
    partial = padded.copy()
    partial.loc[3, "rpm"] = 350.0  # one cell filled: a real row with its volume missing
    pattern = r"volume column 'V' has empty \(or NaN\) cells at rows \[3\]"
    with pytest.raises(InputDataError, match=pattern):
        _quiet(partial, target="C")
    with pytest.raises(InputDataError, match="every data row is empty"):
        ScaleUpData(empty, target="C")


def test_warnings_point_at_the_caller():
    with pytest.warns(DataWarning) as record:
        ScaleUpData(_frame().assign(pH=7.0), target="C")
    assert record[0].filename == __file__


def test_subsets_and_splits_keep_the_warnings_and_do_not_repeat_them(mf_frame):
    frame = pd.concat([mf_frame.assign(pH=7.0), mf_frame.iloc[[0]].assign(pH=7.0)])
    with pytest.warns(DataWarning) as record:
        data = ScaleUpData(frame, target="C")
    assert len(record) == 2 == len(data.validation_warnings)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        parts = [data.subset(data.fidelity == data.top_fidelity), data.to(dtype=torch.float32)]
        parts += list(data.holdout_largest(1))
        for _, train, test in data.leave_one_scale_out():
            parts += [train, test]
        for _, train, test in data.group_split(n_splits=2):
            parts += [train, test]
    for part in parts:
        assert part.validation_warnings == data.validation_warnings
        assert part.validation_warnings is not data.validation_warnings


# -------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("column", "role"),
    [("C", "target"), ("rpm", "operating-variable"), ("t", "time"), ("V", "volume")],
)
def test_magnitudes_beyond_float64_are_errors(column, role):
    frame = _frame()
    frame.loc[2, column] = 1e300
    pattern = rf"{role} column '{column}' has values too large to compute with at rows \[2\] "
    with pytest.raises(InputDataError, match=pattern + r"\(0-based data rows\): 1e\+300"):
        ScaleUpData(frame, target="C")
    frame.loc[2, column] = -1e151
    with pytest.raises(InputDataError, match="-1e\\+151"):
        ScaleUpData(frame, target="C")


def test_text_columns_are_named_together():
    frame = _frame().assign(tier=list("ABABABAB"), operator="ann")
    pattern = (
        r"columns 'tier', 'operator' hold text, not numbers: drop them with --ignore "
        r"tier,operator \(ignore=\['tier', 'operator'\] in Python\)"
    )
    with pytest.raises(InputDataError, match=pattern):
        ScaleUpData(frame, target="C")
    data = ScaleUpData(frame, target="C", ignore=["tier", "operator"])
    assert data.operating_names == ["rpm"]
    with pytest.raises(InputDataError, match=r"--ignore 'batch notes' \(ignore=\['batch notes'"):
        ScaleUpData(_frame().assign(**{"batch notes": "x"}), target="C")


def test_errors_name_file_lines(tmp_path):
    frame = _frame().astype({"C": object})
    frame.loc[3, "C"] = None
    path = tmp_path / "d.csv"
    text = frame.to_csv(index=False).splitlines()
    path.write_text("\n".join(text[:2] + [""] + text[2:]) + "\n")  # a blank line after row 0
    with pytest.raises(InputDataError, match=r"rows \[3\] \(0-based data rows; file lines 6\)"):
        ScaleUpData(path, target="C")


# ------------------------------------------------------------ property tests
@st.composite
def unique_frames(draw):
    """Small valid frames whose rows are all different."""
    vols = draw(st.lists(st.floats(0.5, 1e4), min_size=2, max_size=4, unique=True))
    n_t = draw(st.integers(1, 3))
    levels = draw(st.sampled_from([["measured"], ["scaling_law", "measured"]]))
    rows = []
    for lev in levels:
        for v in vols:
            for k in range(n_t):
                y = draw(st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False))
                rows.append((lev, v, float(k), 400.0 + 10 * k, y))
    return pd.DataFrame(rows, columns=["fidelity", "V", "t", "rpm", "y"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=unique_frames(), data=st.data())
def test_pasted_rows_are_named_exactly(frame, data):
    n = len(frame)
    pasted = data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=8, unique=True))
    doubled = pd.concat([frame, frame.iloc[pasted]], ignore_index=True)
    loaded = _quiet(doubled, target="y")
    found = [m for m in loaded.validation_warnings if "pasted twice" in m]
    repeats = list(range(n, n + len(pasted)))
    assert found == [
        f"rows {repeats} (0-based data rows) repeat rows {pasted} (0-based data rows) "
        "exactly: remove them if they were pasted twice"
    ]
    assert len(loaded) == len(doubled)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=unique_frames(), data=st.data())
def test_empty_rows_and_columns_change_nothing(frame, data):
    n_rows = data.draw(st.integers(0, 4))
    n_cols = data.draw(st.integers(0, 3))
    padded = frame.copy()
    for j in range(n_cols):
        where = data.draw(st.integers(0, padded.shape[1]))
        padded.insert(where, f"empty_{j}", np.nan)
    for _ in range(n_rows):
        where = data.draw(st.integers(0, len(padded)))
        blank = pd.DataFrame(np.nan, index=[0], columns=padded.columns)
        padded = pd.concat([padded.iloc[:where], blank, padded.iloc[where:]], ignore_index=True)
    plain = _quiet(frame, target="y")
    loaded = _quiet(padded, target="y")
    assert loaded.feature_names == plain.feature_names
    assert loaded.fidelity_names == plain.fidelity_names
    assert torch.equal(loaded.X, plain.X) and torch.equal(loaded.Y, plain.Y)
    extra = len(loaded.validation_warnings) - len(plain.validation_warnings)
    assert extra == (n_rows > 0) + (n_cols > 0)


def test_a_subset_keeps_a_column_it_leaves_empty(mf_frame):
    frame = mf_frame.assign(run_id=mf_frame["run_id"].where(mf_frame["fidelity"] == "measured"))
    data = ScaleUpData(frame, target="C")
    cheap = data.subset(data.fidelity == 0)
    assert "run_id" in cheap.frame.columns and cheap.frame["run_id"].isna().all()
    assert cheap.validation_warnings == []
