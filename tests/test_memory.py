"""Memory checks: a fit that cannot fit in memory is refused in seconds, with the fix."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from mfgp import memory
from mfgp.cli import main
from mfgp.data import ScaleUpData
from mfgp.exceptions import InputDataError
from mfgp.models import get_model


def _big_cheap_level(n_cheap: int, n_top: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    v = np.concatenate(
        [10 ** rng.uniform(0, 4, n_cheap), np.repeat([1.0, 10.0, 100.0, 1000.0], n_top // 4)]
    )
    rpm = rng.uniform(100, 1000, v.size)
    return pd.DataFrame(
        {
            "volume_L": v,
            "rpm": rpm,
            "fidelity": ["simulator"] * n_cheap + ["measured"] * n_top,
            "titer": 5 + np.log10(v) * 0.1 + rpm / 1000 + rng.normal(0, 0.01, v.size),
        }
    )


def test_dense_gp_bytes_known_answer():
    assert memory.dense_gp_bytes(100_000, copies=1) == 80_000_000_000  # one float64 matrix
    assert memory.dense_gp_bytes(1000, copies=3, itemsize=4) == 12_000_000
    assert memory.format_bytes(1536) == "1.5 KiB"


def test_check_memory_names_what_and_the_fix():
    memory.check_memory("gp", 10, "x", fix="y", available=100)  # fits
    with pytest.raises(
        InputDataError, match=r"'ar1' would need about 74.5 GiB .* has 1.0 GiB free; do less"
    ):
        memory.check_memory("ar1", 80_000_000_000, "the rows", fix="do less", available=2**30)


def test_estimates_follow_each_models_dense_matrices():
    data = ScaleUpData(_big_cheap_level(500), target="titer")
    need, level, rows = get_model("ar1").memory_estimate(data.X)
    assert (level, rows) == (0, 500) and need == memory.dense_gp_bytes(500)
    need, level, rows = get_model("ar1", mode="joint").memory_estimate(data.X)
    assert (level, rows) == (None, 540)
    need, level, rows = get_model("ar1", hyperparameter_samples=8).memory_estimate(data.X)
    assert need == memory.dense_gp_bytes(500, copies=memory.DENSE_COPIES + 8)
    assert get_model("gp").memory_estimate(data.X)[1:] == (1, 40)
    assert get_model("nargp").memory_estimate(data.X)[1:] == (0, 500)
    assert get_model("random_forest").memory_estimate(data.X) == (0, None, 0)


def test_run_refuses_a_100k_row_cheap_level_in_seconds(tmp_path, capsys):
    """nargp holds an exact GP per level (ar1 and hybrid condition such a level through
    inducing inputs instead: tests/test_models_sparse_level.py)."""
    path = tmp_path / "big.csv"
    _big_cheap_level(100_000).to_csv(path, index=False)
    t0 = time.perf_counter()
    argv = ["run", "--data", str(path), "--target", "titer", "--model", "nargp"]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 2
    assert time.perf_counter() - t0 < 30
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0]
    assert "level 'simulator' (100,000 rows)" in err[0] and "--max-rows-per-level" in err[0]
    assert "use ar1 or hybrid" in err[0]
    assert not (tmp_path / "out").exists()


def test_thin_levels_keeps_the_measurements_and_is_seeded():
    data = ScaleUpData(_big_cheap_level(300), target="titer")
    a, b = data.thin_levels(50, seed=1), data.thin_levels(50, seed=1)
    assert np.bincount(a.fidelity).tolist() == [50, 40]
    assert a.frame.equals(b.frame)
    assert not a.frame.equals(data.thin_levels(50, seed=2).frame)
    assert data.thin_levels(1000) is data
    with pytest.raises(InputDataError, match="whole number >= 1"):
        data.thin_levels(0)
