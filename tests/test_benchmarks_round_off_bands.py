"""Tests of the beyond-float64 recomputation of Forrester's level-0 bands."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from .conftest import load_benchmark_script


@pytest.fixture(scope="module")
def rob():
    return load_benchmark_script("round_off_bands")


def _data(dtype: torch.dtype):
    x = torch.linspace(0, 1, 8, dtype=dtype)
    y = torch.sin(5 * x) + 0.3
    xt = torch.tensor([0.05, 0.5, 1.4, 1.0], dtype=dtype)
    return x, y, xt


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_mpmath_and_float64_agree_where_float64_is_accurate(rob, dtype) -> None:
    x, y, xt = _data(dtype)
    m, v = rob.se_gp_mp(x.tolist(), y.tolist(), xt.tolist(), 2.0, 0.4, 1e-6, digits=40)
    out = rob.se_gp_float64(x, y, xt, 2.0, 0.4, 1e-6)
    assert out is not None
    torch.testing.assert_close(out[0], torch.tensor(m, dtype=torch.float64), rtol=1e-8, atol=1e-9)
    torch.testing.assert_close(out[1], torch.tensor(v, dtype=torch.float64), rtol=1e-6, atol=1e-12)
    # at a training input: the latent variance (about the nugget) plus the nugget
    assert v[-1] == pytest.approx(2e-6, rel=0.05) and v[2] > 10 * v[-1]


def test_exact_interpolation_and_float64_breakdown(rob) -> None:
    """With a nugget far below float64's resolution, the high-precision GP still interpolates
    its data (mean equal to the data, variance about the nugget), and float64 cannot factorise
    the kernel matrix."""
    x = torch.linspace(0, 1, 30, dtype=torch.float64)
    y = torch.cos(3 * x)
    m, v = rob.se_gp_mp(x.tolist(), y.tolist(), x[::7].tolist(), 100.0, 0.5, 1e-40, digits=120)
    torch.testing.assert_close(torch.tensor(m, dtype=torch.float64), y[::7], rtol=0, atol=1e-15)
    assert max(v) < 1e-35
    assert rob.se_gp_float64(x, y, x, 100.0, 0.5, 1e-40) is None


def test_scores_known_answers(rob) -> None:
    y = torch.tensor([1.0, -1.0, 1.0, -1.0, 0.0], dtype=torch.float64)  # sd sqrt(0.8)
    mean = y + torch.tensor([1.0, -1.0, 3.0, -3.0, 2.0], dtype=torch.float64)
    var = torch.tensor([1.0, 1.0, 1.0, -1e-20, 1.0], dtype=torch.float64)
    r = rob.scores(y, mean, var)
    assert r["negative_variances"] == 1
    assert r["coverage95"] == pytest.approx(0.4)  # |z| = 1, 1, 3, inf (variance 0), 2
    assert r["median_sd_over_abs_error"] == pytest.approx(0.5)  # 1, 1, 1/3, 0, 1/2
    assert r["nrmse"] == pytest.approx(6**0.5)  # sqrt(24 / 5) / sqrt(0.8)


def test_run_writes_files_and_checks_arguments(rob, tmp_path) -> None:
    argv = ["--seeds", "1", "--nuggets", "1e-12,1e-30", "--digits", "40", "--n-test", "20"]
    assert rob.main([*argv, "--out", str(tmp_path)]) == 0
    rows = pd.read_csv(tmp_path / "round_off_bands.csv")
    fitted = rows[rows["computation"] == "fitted model (float64)"].iloc[0]
    assert fitted["nugget"] == pytest.approx(1e-12, rel=1e-3)  # the noise floor
    at_fit = rows[(rows["computation"] == "40 digits") & (rows["nugget"] == 1e-12)]
    # the recomputation at the fitted nugget reproduces the fitted model's level-0 bands
    assert at_fit["z_rms"].iloc[0] == pytest.approx(fitted["z_rms"], rel=0.05)
    tiny = rows[(rows["computation"] == "float64") & (rows["nugget"] == 1e-30)]
    assert tiny["status"].iloc[0] == "Cholesky failed"
    meta = json.loads((tmp_path / "round_off_bands.json").read_text())
    assert meta["digits"] == 40 and meta["nuggets"] == [1e-12, 1e-30]
    text = (tmp_path / "round_off_bands.md").read_text()
    assert "| 40 digits | 1e-30 |" in text
    assert "| float64 | 1e-30 | Cholesky failed | | | | | 0/1 |" in text
    for bad in (["--nuggets", "0,1e-3"], ["--nuggets", "a"], ["--digits", "10"]):
        with pytest.raises(SystemExit):
            rob.main([*bad, "--out", str(tmp_path)])
