"""Tests of the hyperparameter-draws speed benchmark: a small run writes its files."""

from __future__ import annotations

import json

import pandas as pd

from .conftest import load_benchmark_script


def test_small_run_writes_every_file(tmp_path) -> None:
    sd = load_benchmark_script("speed_draws")
    out = tmp_path / "speed_draws"
    assert sd.main(["--sizes", "40", "--draws", "2", "--out", str(out)]) == 0
    df = pd.read_csv(out.with_suffix(".csv"))
    assert list(df["n_LF"]) == [40] and list(df["draws"]) == [2]
    assert (df[["fit_s", "predict_first_s", "predict_warm_s"]] > 0).all(axis=None)
    assert 0 < float(df["nrmse"].iloc[0]) < 1
    assert json.loads(out.with_suffix(".json").read_text())["rows"][0]["n_HF"] == 8
    assert "for_simulator" in out.with_suffix(".md").read_text()
