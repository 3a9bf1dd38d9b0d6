"""Tests of the level-by-level calibration benchmark: its scores, files and agreement with the
top-level accuracy benchmark."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from mfgp.benchmarks.functions import get_function, make_problem

from .conftest import load_benchmark_script


@pytest.fixture(scope="module")
def cal():
    return load_benchmark_script("calibration_by_level")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_level_metrics_known_answers(cal, dtype) -> None:
    y = torch.zeros(4, dtype=dtype)
    mean = torch.tensor([1.0, -1.0, 3.0, -3.0], dtype=dtype)
    r = cal.level_metrics(y, mean, torch.ones(4, dtype=dtype), scale=2.0)
    assert r["z_rms"] == pytest.approx(5**0.5)  # |z| = 1, 1, 3, 3
    assert r["coverage95"] == pytest.approx(0.5)  # two of four within 1.96 sd
    assert r["nrmse"] == pytest.approx(5**0.5 / 2)  # RMSE sqrt(5) over the scale 2
    r = cal.level_metrics(y, mean, torch.full((4,), 4.0, dtype=dtype), scale=2.0)
    assert r["z_rms"] == pytest.approx(5**0.5 / 2) and r["coverage95"] == 1.0  # sd 2
    # calibrated bands: z_rms -> 1 on standard normal errors
    g = torch.Generator().manual_seed(0)
    e = torch.randn(20000, generator=g, dtype=torch.float64)
    r = cal.level_metrics(e, torch.zeros_like(e), torch.ones_like(e), scale=1.0)
    assert r["z_rms"] == pytest.approx(1.0, abs=0.02)
    assert r["coverage95"] == pytest.approx(0.95, abs=0.01)


def test_top_level_equals_the_accuracy_benchmark(cal) -> None:
    """The last level's scores are the accuracy benchmark's for the same model and seed."""
    acc = load_benchmark_script("accuracy_test_functions")
    fn = get_function("forrester")
    X, Y, Xt, Yt = make_problem(fn, (12, 5), seed=1, n_test=40)
    for name in ("ar1_sim_plugin", "nargp"):
        model = acc.make_model(name, quick=True).factory().fit((X, Y), seed=1)
        levels = cal.score_levels(model, fn, Xt, Yt)
        assert [r["level"] for r in levels] == [0, 1]
        ref = acc.evaluate(acc.make_model(name, quick=True), X, Y, Xt, Yt, 1)
        assert levels[-1]["coverage95"] == pytest.approx(ref["coverage95"])
        assert levels[-1]["nrmse"] == pytest.approx(ref["nrmse"])
        assert levels[-1]["nlpd"] == pytest.approx(ref["nlpd"])


def test_run_writes_files(cal, tmp_path) -> None:
    argv = ["--quick", "--seeds", "1", "--problems", "forrester", "--models", "nargp"]
    assert cal.main([*argv, "--n-test", "30", "--out", str(tmp_path)]) == 0
    rows = pd.read_csv(tmp_path / "calibration_by_level.csv")
    assert set(rows["level"]) == {0, 1} and (rows["status"] == "ok").all()
    meta = json.loads((tmp_path / "calibration_by_level.json").read_text())
    assert meta["seeds"] == [0] and len(meta["summary"]) == 2
    md = (tmp_path / "calibration_by_level.md").read_text()
    assert "| forrester | nargp | 1 |" in md and "forrester 50/10" in md
    assert (tmp_path / "calibration_by_level.png").stat().st_size > 0


def test_unknown_model_is_a_clear_error(cal, tmp_path, capsys) -> None:
    with pytest.raises(SystemExit):
        cal.main(["--models", "ar2", "--out", str(tmp_path)])
    assert "unknown models ['ar2']" in capsys.readouterr().err
