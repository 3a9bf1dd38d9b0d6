"""Known-answer tests of the metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mfgp import metrics
from mfgp.exceptions import InputDataError
from mfgp.models.base import Prediction


def test_known_values():
    y = torch.tensor([1.0, 2.0, 3.0, 4.0])
    m = torch.tensor([1.0, 2.0, 3.0, 6.0])
    assert metrics.rmse(y, m) == pytest.approx(1.0)
    assert metrics.mae(y, m) == pytest.approx(0.5)
    assert metrics.r2(y, y) == 1.0
    assert metrics.r2(y, torch.full_like(y, 2.5)) == pytest.approx(0.0)
    assert metrics.nrmse(y, m) == pytest.approx(1.0 / np.std([1, 2, 3, 4]))
    assert math.isnan(metrics.nrmse(torch.ones(3), torch.ones(3)))
    # NLPD of a standard normal at its mean
    assert metrics.nlpd([0.0], [0.0], [1.0]) == pytest.approx(0.5 * math.log(2 * math.pi))
    # CRPS of N(0, 1) at 0 is (sqrt(2) - 1) / sqrt(pi)
    assert metrics.crps_gaussian([0.0], [0.0], [1.0]) == pytest.approx(
        (math.sqrt(2) - 1) / math.sqrt(math.pi)
    )
    assert metrics.coverage(y, y - 0.5, y + 0.5) == 1.0
    assert metrics.coverage(y, y + 0.1, y + 0.5) == 0.0
    assert metrics.interval_width(y - 1, y + 1) == pytest.approx(2.0)


def test_crps_matches_sampling_estimate():
    rng = np.random.default_rng(0)
    s = rng.normal(1.0, 2.0, size=(200_000,))
    y = 0.3
    est = np.mean(np.abs(s - y)) - 0.5 * np.mean(np.abs(s[:100_000] - s[100_000:]))
    assert metrics.crps_gaussian([y], [1.0], [4.0]) == pytest.approx(est, rel=2e-2)


@settings(max_examples=40, deadline=None)
@given(st.integers(5, 200), st.floats(0.1, 5.0))
def test_gaussian_coverage_is_near_nominal(n, sd):
    # invariant: predictions with the true distribution have coverage near 95 %
    gen = torch.Generator().manual_seed(n)
    y = sd * torch.randn(4000, generator=gen, dtype=torch.float64)
    p = Prediction.gaussian(torch.zeros(4000, dtype=torch.float64), torch.full((4000,), sd**2))
    assert abs(metrics.coverage(y, p.lower, p.upper) - 0.95) < 0.02


def test_evaluate_and_per_volume():
    y = torch.tensor([1.0, 2.0, 3.0, 4.0])
    p = Prediction.gaussian(y + 0.1, torch.full((4,), 0.04))
    out = metrics.evaluate(y, p)
    assert set(out) == set(metrics.METRIC_NAMES)
    table = metrics.per_volume([10.0, 10.0, 100.0, 100.0], y, p)
    assert table["volume_L"].tolist() == [10.0, 100.0, "all"]
    assert table["n"].tolist() == [2, 2, 4]
    assert table["rmse"].tolist() == pytest.approx([0.1, 0.1, 0.1])


def test_bad_inputs():
    with pytest.raises(InputDataError, match="y has 3 values but mean has 2"):
        metrics.rmse([1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(InputDataError, match="NaN"):
        metrics.rmse([1.0, float("nan")], [1.0, 2.0])
    with pytest.raises(InputDataError, match="at least one"):
        metrics.mae([], [])
