"""Tests of the data layer: aliases, tensors, splits, standardisation and every bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mfgp.data import DEFAULT_FIDELITY_ORDER, ScaleUpData, read_table
from mfgp.exceptions import InputDataError

from .conftest import DTYPES


def test_seed_format_aliases_and_scale_index(seed_frame):
    data = ScaleUpData(seed_frame, target="C")
    assert data.feature_names == ["log10_volume_L", "time_h"]
    assert "scale_index" in data.frame.columns  # kept aside, not a feature
    assert data.fidelity_names == ["measured"]
    assert data.X.dtype == torch.float64 and data.X.shape == (40, 3)
    np.testing.assert_allclose(data.X[:, 0].numpy(), np.log10(seed_frame["V"]))
    assert (data.X[:, -1] == 0).all()
    assert data.Y.shape == (40, 1)
    assert data.volumes().tolist() == [2.0, 20.0, 200.0, 2000.0]


def test_canonical_names_give_same_tensors(seed_frame):
    a = ScaleUpData(seed_frame, target="C")
    b = ScaleUpData(seed_frame.rename(columns={"V": "volume_L", "t": "time_h"}), target="C")
    assert torch.equal(a.X, b.X) and torch.equal(a.Y, b.Y)


def test_input_frame_not_modified(seed_frame):
    before = seed_frame.copy()
    ScaleUpData(seed_frame, target="C")
    pd.testing.assert_frame_equal(seed_frame, before)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dtype_and_device(seed_frame, dtype):
    data = ScaleUpData(seed_frame, target="C", dtype=dtype)
    assert data.X.dtype == dtype and data.Y.dtype == dtype
    assert data.X.device.type == "cpu"
    other = data.to(dtype=torch.float64)
    assert other.X.dtype == torch.float64


def test_multi_fidelity_levels_and_operating_variables(mf_frame):
    data = ScaleUpData(mf_frame, target="C")
    assert data.fidelity_names == ["scaling_law", "measured"]
    assert data.feature_names == ["log10_volume_L", "time_h", "rpm"]
    assert sorted(set(data.X[:, -1].tolist())) == [0.0, 1.0]
    assert data.top_fidelity == 1
    assert set(data.summary()["fidelity"]) == {"scaling_law", "measured"}


def test_explicit_fidelity_order_and_integer_levels(mf_frame):
    names = mf_frame["fidelity"].map({"scaling_law": "cheap", "measured": "truth"})
    frame = mf_frame.assign(fidelity=names)
    data = ScaleUpData(frame, target="C", fidelity_order=["cheap", "truth"])
    assert data.fidelity_names == ["cheap", "truth"]
    ints = mf_frame.assign(fidelity=(mf_frame["fidelity"] == "measured").astype(int))
    assert ScaleUpData(ints, target="C").fidelity_names == ["0", "1"]


def test_holdout_largest(mf_frame):
    data = ScaleUpData(mf_frame, target="C")
    train, test = data.holdout_largest(1)
    assert test.volumes().tolist() == [2000.0]
    assert set(test.fidelity.tolist()) == {data.top_fidelity}
    # cheap level-0 predictions at the held-out volume stay in training; measurements do not
    assert 2000.0 in train.volumes(fidelity="scaling_law")
    assert 2000.0 not in train.volumes()
    assert len(train) + len(test) == len(data)
    train2, _ = data.holdout_largest(2, keep_lower_fidelities=False)
    assert train2.volume_L.max() == 20.0
    assert train.fidelity_names == data.fidelity_names


def test_leave_one_scale_out_and_group_split(mf_frame):
    data = ScaleUpData(mf_frame, target="C")
    folds = list(data.leave_one_scale_out())
    assert [v for v, _, _ in folds] == [2.0, 20.0, 200.0, 2000.0]
    for v, train, test in folds:
        assert test.volumes().tolist() == [v] and v not in train.volumes()
    groups = list(data.group_split())
    assert len(groups) == 8
    for ids, train, test in groups:
        assert set(test.frame["run_id"]) == set(ids)
        assert not set(ids) & set(train.frame["run_id"])
    assert len(list(data.group_split(n_splits=2))) == 2


def test_standardizers_are_reversible(mf_frame):
    data = ScaleUpData(mf_frame, target="C")
    tf, ot = data.standardizers()
    Xs = tf(data.X)
    assert torch.allclose(Xs[:, :-1].mean(0), torch.zeros(3, dtype=Xs.dtype), atol=1e-10)
    assert torch.equal(Xs[:, -1], data.X[:, -1])  # fidelity index untouched
    assert torch.allclose(tf.untransform(Xs), data.X)
    Ys, _ = ot(data.Y)
    assert abs(Ys.mean().item()) < 1e-10  # pooled over levels
    assert torch.allclose(ot.untransform(Ys)[0], data.Y)


def test_encode_new_points(mf_frame):
    data = ScaleUpData(mf_frame, target="C")
    X = data.encode(pd.DataFrame({"V": [1e4], "t": [5.0], "rpm": [400.0]}))
    assert X.tolist() == [[4.0, 5.0, 400.0, 1.0]]
    X0 = data.encode(pd.DataFrame({"V": [1e4], "t": [5.0], "rpm": [1.0]}), fidelity="scaling_law")
    assert X0[0, -1] == 0
    with pytest.raises(InputDataError, match="rpm"):
        data.encode(pd.DataFrame({"V": [1e4], "t": [5.0]}))
    with pytest.raises(InputDataError, match="unknown fidelity 'lab'"):
        data.encode(pd.DataFrame({"V": [1e4], "t": [5.0], "rpm": [1.0]}), fidelity="lab")


def test_csv_round_trip_and_semicolons(tmp_path, seed_frame):
    path = tmp_path / "d.csv"
    seed_frame.to_csv(path, index=False, sep=";", encoding="latin-1")
    data = ScaleUpData(path, target="C")
    assert len(data) == len(seed_frame)
    assert data.source == str(path)


# ------------------------------------------------------------------ bad input
BAD_CASES = {
    "missing volume column": (lambda f: f.drop(columns=["V", "scale"]), "no volume column"),
    "scale index only": (lambda f: f.drop(columns=["V"]), "scale index"),
    "unknown text column": (lambda f: f.assign(notes="ok"), "column 'notes' holds text"),
    "non-numeric volume": (
        lambda f: f.assign(V=f["V"].astype(object).where(f.index != 3, "ten")),
        "non-numeric values at rows \\[3\\]",
    ),
    "non-numeric target": (
        lambda f: f.assign(C=f["C"].astype(object).where(f.index != 5, "n/a")),
        "target column 'C' has non-numeric",
    ),
    "nan target": (lambda f: f.assign(C=f["C"].where(f.index != 7)), "NaN.*rows \\[7\\]"),
    "inf time": (
        lambda f: f.assign(t=f["t"].where(f.index != 2, np.inf)),
        "time column 't'.*rows \\[2\\]",
    ),
    "zero volume": (lambda f: f.assign(V=f["V"].where(f.index != 0, 0.0)), "must be > 0"),
    "negative volume": (lambda f: f.assign(V=-f["V"]), "must be > 0"),
    "negative time": (lambda f: f.assign(t=f["t"] - 100), ">= 0 hours"),
    "duplicate alias": (lambda f: f.assign(volume=f["V"]), "all name the 'volume_L'"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_frames_raise_named_errors(seed_frame, case):
    corrupt, pattern = BAD_CASES[case]
    with pytest.raises(InputDataError, match=pattern):
        ScaleUpData(corrupt(seed_frame), target="C")


def test_missing_target_lists_columns_and_suggests(seed_frame):
    with pytest.raises(InputDataError, match=r"target column 'c' does not exist.*Did you mean"):
        ScaleUpData(seed_frame, target="c")


def test_unknown_fidelity_names(mf_frame):
    frame = mf_frame.assign(fidelity=mf_frame["fidelity"].replace("scaling_law", "lab_guess"))
    with pytest.raises(InputDataError, match="unknown fidelity names \\['lab_guess'\\]"):
        ScaleUpData(frame, target="C")
    with pytest.raises(InputDataError, match="unknown fidelity names \\['measured'\\] at rows"):
        ScaleUpData(frame, target="C", fidelity_order=["lab_guess"])


def test_unknown_feature_and_ignore(seed_frame):
    with pytest.raises(InputDataError, match="unknown feature columns \\['rpm'\\]"):
        ScaleUpData(seed_frame, target="C", features=["rpm"])
    data = ScaleUpData(seed_frame.assign(notes="x"), target="C", ignore=["notes"])
    assert "notes" not in data.frame.columns
    with pytest.raises(InputDataError, match="to ignore"):
        ScaleUpData(seed_frame, target="C", ignore=["nope"])


def test_single_volume_cannot_extrapolate(seed_frame):
    one = ScaleUpData(seed_frame[seed_frame["V"] == 2.0], target="C")
    with pytest.raises(InputDataError, match="two or more distinct volumes"):
        one.holdout_largest(1)
    with pytest.raises(InputDataError, match="two or more distinct volumes"):
        list(one.leave_one_scale_out())
    data = ScaleUpData(seed_frame, target="C")
    with pytest.raises(InputDataError, match="at least 5 to hold out 4"):
        data.holdout_largest(4)
    with pytest.raises(InputDataError, match="integer >= 1"):
        data.holdout_largest(0)
    with pytest.raises(InputDataError, match="run_id"):
        list(data.group_split())


def test_file_errors(tmp_path, seed_frame):
    with pytest.raises(InputDataError, match="does not exist"):
        read_table(tmp_path / "missing.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InputDataError, match="is empty"):
        ScaleUpData(empty, target="C")
    header = tmp_path / "header.csv"
    header.write_text("V,t,C\n")
    with pytest.raises(InputDataError, match="no data rows"):
        ScaleUpData(header, target="C")
    binary = tmp_path / "data.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    with pytest.raises(InputDataError, match="binary file, not a CSV"):
        ScaleUpData(binary, target="C")
    xlsx = tmp_path / "data.xlsx"
    xlsx.write_bytes(b"PK\x03\x04")
    with pytest.raises(InputDataError, match="Excel workbook, not a CSV"):
        ScaleUpData(xlsx, target="C")
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("V,t,C\n1,2,3\n1,2,3,4,5\n")
    with pytest.raises(InputDataError, match="could not be read as a CSV"):
        ScaleUpData(ragged, target="C")
    with pytest.raises(InputDataError, match="is not a file"):
        ScaleUpData(tmp_path, target="C")
    with pytest.raises(InputDataError, match="no rows"):
        ScaleUpData(seed_frame.iloc[:0], target="C")
    with pytest.raises(InputDataError, match="CSV path or a pandas DataFrame"):
        ScaleUpData(42, target="C")  # type: ignore[arg-type]


# ------------------------------------------------------------ property tests
@st.composite
def valid_frames(draw):
    n_vol = draw(st.integers(2, 4))
    vols = sorted(draw(st.lists(st.floats(0.5, 1e5), min_size=n_vol, max_size=n_vol, unique=True)))
    n_t = draw(st.integers(1, 4))
    levels = draw(st.sampled_from([["measured"], ["scaling_law", "measured"]]))
    rows = []
    for lev in levels:
        for v in vols:
            for k in range(n_t):
                y = draw(st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False))
                rows.append((lev, v, float(k), 400.0 + k, y))
    return pd.DataFrame(rows, columns=["fidelity", "V", "t", "rpm", "y"])


CORRUPTIONS = ["nan", "inf", "text", "nonpositive_volume", "unknown_fidelity", "drop_volume"]


def _corrupt(frame: pd.DataFrame, kind: str, row: int, col: str) -> pd.DataFrame:
    f = frame.copy()
    if kind == "drop_volume":
        return f.drop(columns=["V"])
    if kind == "nonpositive_volume":
        f.loc[row, "V"] = -abs(f.loc[row, "V"]) * 0.0 - 1.0
        return f
    if kind == "unknown_fidelity":
        f.loc[row, "fidelity"] = "pilot_guess"
        return f
    f[col] = f[col].astype(object)
    f.loc[row, col] = {"nan": np.nan, "inf": -np.inf, "text": "12,5 g/L"}[kind]
    return f


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=valid_frames(), kind=st.sampled_from(CORRUPTIONS), data=st.data())
def test_no_malformed_frame_passes_silently(frame, kind, data):
    ScaleUpData(frame, target="y")  # the valid frame passes
    row = data.draw(st.integers(0, len(frame) - 1))
    col = data.draw(st.sampled_from(["V", "t", "rpm", "y"]))
    with pytest.raises(InputDataError):
        ScaleUpData(_corrupt(frame, kind, row, col), target="y")


@settings(max_examples=30, deadline=None)
@given(frame=valid_frames())
def test_valid_frames_round_trip_to_tensors(frame):
    data = ScaleUpData(frame, target="y")
    assert torch.isfinite(data.X).all() and torch.isfinite(data.Y).all()
    np.testing.assert_allclose(data.X[:, 0].numpy(), np.log10(frame["V"].to_numpy()))
    np.testing.assert_allclose(data.Y[:, 0].numpy(), frame["y"].to_numpy())
    top = data.X[:, -1] == data.top_fidelity
    assert top.any()
    names = set(frame["fidelity"])
    assert data.fidelity_names == [n for n in DEFAULT_FIDELITY_ORDER if n in names]
