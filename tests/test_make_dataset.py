"""The default data set: regeneration (numerically, to the last printed digit) and its
documented structure."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from mfgp import datasets

from .csv_compare import assert_csv_close

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "make_dataset.py"
CSV = datasets.file("bioreactor_multifidelity")
KEYS = ("run_id", "fidelity", "volume_L", "time_h")


@pytest.fixture(scope="module")
def md() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_dataset", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return pd.read_csv(CSV)


def test_script_reproduces_committed_csv(tmp_path: Path) -> None:
    out = tmp_path / "regenerated.csv"
    subprocess.run([sys.executable, str(SCRIPT), "--out", str(out)], check=True, cwd=tmp_path)
    # one unit of the last digit, or 1e-5 relative: the simulator's ODE solver runs at
    # rtol=1e-6, and on another CPU the sixth digit of a titer moved by 2 units (2e-6 relative)
    assert_csv_close(out, CSV, keys=KEYS, rel=1e-5)


def test_csv_comparison_reports_a_real_difference(tmp_path: Path) -> None:
    lines = CSV.read_text().splitlines(keepends=True)
    head, first = lines[0], lines[1].rstrip("\n").split(",")
    last_digit = first[-1]  # titer printed with %.6g: bump it by two units of its last digit
    first[-1] = last_digit[:-1] + str((int(last_digit[-1]) + 2) % 10)
    changed = tmp_path / "changed.csv"
    changed.write_text(head + ",".join(first) + "\n" + "".join(lines[2:]))
    with pytest.raises(AssertionError, match=r"1 cell\(s\) differ.*row 0, titer_gL"):
        assert_csv_close(changed, CSV, keys=KEYS)
    one_unit = tmp_path / "one_unit.csv"
    first[-1] = last_digit[:-1] + str((int(last_digit[-1]) + 1) % 10)
    one_unit.write_text(head + ",".join(first) + "\n" + "".join(lines[2:]))
    if first[-1][-1] != "0":  # no carry into the next digit: within one unit
        assert_csv_close(one_unit, CSV, keys=KEYS)


def test_columns_levels_and_size(data: pd.DataFrame, md: ModuleType) -> None:
    assert list(data.columns) == list(md.COLUMNS)
    assert list(dict.fromkeys(data["fidelity"])) == ["scaling_law", "simplified_model", "measured"]
    assert len(data) < 3000
    assert data.notna().all().all()
    for _, run in data.groupby("run_id"):
        assert 10 <= len(run) <= 15
        assert run[["volume_L", "rpm", "vvm", "feed_gLh"]].nunique().max() == 1
        assert run["fidelity"].nunique() == 1


def test_measured_volumes_and_holdout(data: pd.DataFrame) -> None:
    meas = data[data["fidelity"] == "measured"]
    vols = sorted(meas["volume_L"].unique())
    assert vols == [1.0, 10.0, 100.0, 1000.0, 10000.0, 50000.0]
    # the production runs are the two largest measured volumes (--holdout-largest 2)
    assert vols[-2:] == [10000.0, 50000.0]
    assert meas.groupby("volume_L")["run_id"].nunique().min() >= 2
    for level in ("scaling_law", "simplified_model"):
        low = data[data["fidelity"] == level]
        assert {10000.0, 50000.0} <= set(low["volume_L"])
        assert low["volume_L"].max() >= 100000.0


def test_physically_coherent(data: pd.DataFrame) -> None:
    meas = data[(data["fidelity"] == "measured") & (data["time_h"] == data["time_h"].max())]
    by_vol = meas.groupby("volume_L")[["biomass_gL", "titer_gL"]].mean()
    assert 30 < by_vol["biomass_gL"].max() < 90
    lab = by_vol.loc[[1.0, 10.0]].mean()
    assert (by_vol.loc[50000.0] < 0.9 * lab).all()  # production is measurably worse


def test_low_levels_are_biased_at_production(data: pd.DataFrame, md: ModuleType) -> None:
    err = md.low_fidelity_errors(data)
    assert (err["nrmse"] > 0.2).all()
    assert set(err["level"]) == {"scaling_law", "simplified_model"}


def test_scaling_law_ignores_production_rows(data: pd.DataFrame, md: ModuleType) -> None:
    meas = data[data["fidelity"] == "measured"].copy()
    a = md.fit_scaling_law(meas, "titer_gL")
    meas.loc[meas["volume_L"] > md.TRAIN_MAX_VOLUME_L, "titer_gL"] *= 5
    b = md.fit_scaling_law(meas, "titer_gL")
    X = md.features(data)
    np.testing.assert_array_equal(a(X).detach().numpy(), b(X).detach().numpy())
