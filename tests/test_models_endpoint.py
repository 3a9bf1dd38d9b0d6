"""Every registered model on end-point data (one row per run, no time column): it fits and
predicts the held-out largest volume, or ``applicability`` says why it cannot."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import torch

from mfgp.data import ScaleUpData
from mfgp.exceptions import InputDataError
from mfgp.models import available_models, get_model, load_model
from mfgp.models.baselines import END_POINT_REASON
from mfgp.scaling.endpoint_law import EndPointScalingLaw

from .model_contract import skip_if_missing

pytestmark = pytest.mark.filterwarnings("ignore::botorch.exceptions.warnings.InputDataWarning")

#: options that keep every fit small and fast
FAST: dict[str, dict] = {
    "ar1": {"restarts": 1, "maxiter": 50},
    "hybrid": {"restarts": 1, "maxiter": 50},
    "nargp": {"restarts": 1, "maxiter": 50},
    "gp": {"restarts": 1, "maxiter": 50},
    "discrepancy": {"restarts": 1, "maxiter": 50},
    "mlp_ensemble": {"members": 2, "epochs": 100},
    "random_forest": {"n_estimators": 30},
    "gbt": {"n_estimators": 30},
    "xgboost": {"n_estimators": 30},
    "lightgbm": {"n_estimators": 30},
}
#: the models that cannot fit end-point data
NOT_APPLICABLE = {"classic": END_POINT_REASON}


@pytest.fixture
def endpoint_frame() -> pd.DataFrame:
    """Titer at harvest, one row per run: 5 volumes from 1 L to 10,000 L, 3-4 runs each, two
    operating variables; the titer falls slowly with scale (V^-0.03) and has 3 % noise."""
    rng = np.random.default_rng(5)
    rows = []
    for i, v in enumerate((1.0, 10.0, 100.0, 1000.0, 10000.0)):
        for r in range(3 + i % 2):
            rpm, temp = rng.uniform(250.0, 550.0), rng.uniform(30.0, 37.0)
            titer = 5.0 * v**-0.03 * (1 + 0.0005 * (rpm - 400)) * (1 - 0.02 * (temp - 33.5))
            rows.append((f"B{i}{r}", v, rpm, temp, titer * np.exp(rng.normal(0.0, 0.03))))
    return pd.DataFrame(rows, columns=["run_id", "volume_L", "rpm", "temp_C", "titer_gL"])


@pytest.fixture
def split(endpoint_frame) -> tuple[ScaleUpData, ScaleUpData]:
    data = ScaleUpData(endpoint_frame, target="titer_gL")
    assert data.feature_names == ["log10_volume_L", "rpm", "temp_C"]
    return data.holdout_largest(1)


@pytest.mark.parametrize("name", available_models())
def test_every_model_fits_end_points_or_says_why(name: str, split) -> None:
    skip_if_missing(name)
    train, test = split
    model = get_model(name, **FAST.get(name, {}))
    reason = model.applicability(train)
    if name in NOT_APPLICABLE:
        assert reason == NOT_APPLICABLE[name]
        with pytest.raises(InputDataError, match=re.escape(reason)):
            model.fit(train)
        return
    assert reason is None
    pred = model.fit(train, seed=0).predict(test.X)
    assert set(test.volume_L) == {10000.0} and pred.mean.shape == (len(test),)
    assert torch.isfinite(pred.mean).all() and torch.isfinite(pred.variance).all()
    assert (pred.variance > 0).all()
    # a sane extrapolation: within a factor of 2 of the held-out titers
    ratio = pred.mean / test.Y.squeeze(-1)
    assert ((ratio > 0.5) & (ratio < 2.0)).all(), ratio


@pytest.mark.parametrize("name", ["hybrid", "discrepancy", "scaling_law"])
def test_save_load_on_end_points(name: str, split, tmp_path) -> None:
    train, test = split
    model = get_model(name, **FAST.get(name, {})).fit(train, seed=0)
    surrogate = model.level0 if name == "hybrid" else model.surrogate_
    assert isinstance(surrogate, EndPointScalingLaw) and surrogate.link_ == "log"
    assert surrogate.operating_columns == (1, 2)
    pred = model.predict(test.X)
    model.save(tmp_path / name)
    loaded = load_model(tmp_path / name)
    again = loaded.predict(test.X)
    torch.testing.assert_close(again.mean, pred.mean, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(again.variance, pred.variance, rtol=1e-10, atol=1e-12)
    assert loaded.fit_choices() == model.fit_choices()


def test_hybrid_level0_is_the_end_point_law_of_the_training_rows(endpoint_frame, split) -> None:
    train, test = split
    model = get_model("hybrid", **FAST["hybrid"]).fit(train, seed=0)
    assert model.metadata["surrogate"]["kind"] == "endpoint"
    choices = model.fit_choices()
    assert choices["surrogate_basis"] in ("power", "piecewise")
    assert choices["surrogate_link"] == "log"
    # the held-out rows never reach the fit
    poisoned = endpoint_frame.copy()
    poisoned.loc[poisoned["volume_L"] == 10000.0, "titer_gL"] *= 10
    p_train, _ = ScaleUpData(poisoned, target="titer_gL").holdout_largest(1)
    other = get_model("hybrid", **FAST["hybrid"]).fit(p_train, seed=0)
    torch.testing.assert_close(other.predict(test.X).mean, model.predict(test.X).mean)


# a fixed power basis with a linear rho: rho and the linear delta mean are barely identified
# on end points, and one short restart may say so
@pytest.mark.filterwarnings("ignore:level 1. fitted rho")
def test_hybrid_surrogate_options_for_growth_curves_are_left_out(split) -> None:
    train, test = split
    model = get_model("hybrid", surrogate={"growth": "logistic", "basis": "power"}, restarts=1)
    model.fit(train, seed=0, maxiter=30)
    assert isinstance(model.level0, EndPointScalingLaw)
    assert "growth" not in model.metadata["surrogate"]
    assert "surrogate_basis" not in model.fit_choices()  # a fixed basis: nothing chosen


def test_applicability_reports_too_little_data(endpoint_frame) -> None:
    one_volume = ScaleUpData(endpoint_frame[endpoint_frame["volume_L"] == 10.0], target="titer_gL")
    assert "at least 2 volumes" in get_model("hybrid").applicability(one_volume)
    assert "at least 2 volumes" in get_model("scaling_law").applicability(one_volume)
    assert "at least 2 volumes" in get_model("discrepancy").applicability(one_volume)
    assert get_model("gp").applicability(one_volume) is None
    two_rows = ScaleUpData(endpoint_frame.iloc[[0, 4]], target="titer_gL")
    assert get_model("ridge").applicability(two_rows) == (
        "needs at least 3 measured rows; the data have 2"
    )
    piecewise = get_model("scaling_law", basis="piecewise")
    two_volumes = ScaleUpData(endpoint_frame.iloc[:7], target="titer_gL")
    assert "at least 3 volumes" in piecewise.applicability(two_volumes)


def test_tensor_end_points_with_volume_only() -> None:
    """``(X, Y)`` tensors with ``log10_volume_L`` as the only feature are end points."""
    lv = torch.tensor([0.0, 1.0, 2.0, 3.0], dtype=torch.float64).repeat_interleave(3)
    y = (4.0 * (10**lv) ** -0.05 * (1 + 0.02 * torch.cos(5 * torch.arange(12.0)))).unsqueeze(-1)
    X = torch.stack([lv, torch.zeros_like(lv)], -1)
    Xq = torch.tensor([[4.0, 0.0]], dtype=torch.float64)
    for name in ("scaling_law", "discrepancy", "hybrid"):
        model = get_model(name, **FAST.get(name, {})).fit((X, y), seed=0)
        assert 2.5 < float(model.predict(Xq).mean) < 4.0
