"""``hybrid``: AR1 with an automatic scaling-law level 0 on measurement-only data."""

from __future__ import annotations

import math

import pytest
import torch

from mfgp.data import ScaleUpData
from mfgp.exceptions import InputDataError
from mfgp.models import get_model, load_model
from mfgp.models.hybrid import HybridGP
from mfgp.scaling.bases import ScalingLawSurrogate
from mfgp.scaling.endpoint_law import EndPointScalingLaw


@pytest.fixture
def split(seed_frame):
    return ScaleUpData(seed_frame, target="C").holdout_largest(1)


def test_measurement_only_data_gets_a_surrogate_level0(split):
    train, test = split
    model = HybridGP(restarts=1, maxiter=60).fit(train, seed=0)
    assert isinstance(model.level0, ScalingLawSurrogate)
    assert model.metadata["auto_level0"] is True
    assert model.fit_choices() == {"surrogate_basis": model.metadata["surrogate"]["basis"]}
    # the surrogate saw the training volumes only
    assert float(model.level0.run_log10_volume_.max()) == pytest.approx(math.log10(200.0))
    pred = model.predict(test.X)
    assert pred.mean.shape == (len(test),) and (pred.variance > 0).all()
    rmse = torch.sqrt(torch.mean((pred.mean - test.Y.squeeze(-1)) ** 2))
    assert rmse < 0.25 * test.Y.std()


def test_held_out_rows_never_reach_the_fit(seed_frame):
    """Changing the held-out measurements changes nothing in the fitted model."""
    a_train, test = ScaleUpData(seed_frame, target="C").holdout_largest(1)
    poisoned = seed_frame.copy()
    poisoned.loc[poisoned["V"] == 2000.0, "C"] *= 10
    b_train, _ = ScaleUpData(poisoned, target="C").holdout_largest(1)
    a = HybridGP(restarts=1, maxiter=40).fit(a_train, seed=0).predict(test.X).mean
    b = HybridGP(restarts=1, maxiter=40).fit(b_train, seed=0).predict(test.X).mean
    assert torch.allclose(a, b, atol=1e-6)


def test_user_fidelity_index_stays_zero(split):
    train, test = split
    model = HybridGP(restarts=1, maxiter=30).fit(train)
    bad = test.X.clone()
    bad[:, -1] = 1
    with pytest.raises(InputDataError, match="last column of X must be 0"):
        model.predict(bad)
    post = model.posterior(test.X[:4])
    assert post.mean.shape == (4, 1)


def test_save_load_round_trip(split, tmp_path):
    train, test = split
    model = get_model("hybrid", restarts=1, maxiter=30).fit(train)
    model.save(tmp_path / "h")
    loaded = load_model(tmp_path / "h")
    assert isinstance(loaded, HybridGP)
    assert torch.allclose(loaded.predict(test.X).mean, model.predict(test.X).mean, atol=1e-8)


def test_multi_fidelity_data_is_plain_ar1(mf_frame):
    train, test = ScaleUpData(mf_frame, target="C").holdout_largest(1)
    model = HybridGP(restarts=1, maxiter=30).fit(train)
    assert model.level0 is None and "auto_level0" not in model.metadata
    assert model.predict(test.X).mean.shape == (len(test),)


def test_end_points_without_lower_fidelities_get_an_end_point_law(seed_frame):
    """End-point data (no time column) used to be refused; their level 0 is now an end-point
    scaling law (tests/test_models_endpoint.py has more)."""
    end = seed_frame[seed_frame["t"] == 36.0].drop(columns="t")
    train, test = ScaleUpData(end, target="C").holdout_largest(1)
    model = HybridGP(restarts=1, maxiter=30).fit(train)
    assert isinstance(model.level0, EndPointScalingLaw)
    assert model.fit_choices()["surrogate_basis"] == "power"  # piecewise needs more volumes
    pred = model.predict(test.X)
    assert torch.isfinite(pred.mean).all() and (pred.variance > 0).all()


def test_growth_curve_errors_name_the_users_run(mf_frame):
    meas = mf_frame[mf_frame["fidelity"] == "measured"]
    short = meas[~((meas["run_id"] == "measured-20-1") & (meas["time_h"] > 6.0))]
    train, _ = ScaleUpData(short, target="C").holdout_largest(1)
    with pytest.raises(InputDataError, match="run 'measured-20-1' has 2 time points"):
        HybridGP(restarts=1).fit(train)


def test_select_surrogate_basis_prefers_the_generating_law():
    """Curves whose plateau is linear in log V: the log law must beat the power law."""
    from mfgp.models.hybrid import select_surrogate_basis
    from mfgp.scaling.growth import BaranyiGrowth

    t = torch.linspace(0, 40, 11, dtype=torch.float64)
    xs, ys = [], []
    for lv in (0.0, 1.0, 2.0, 3.0):
        p = torch.tensor([0.1, 30.0 - 6.0 * lv, 0.5, 2.0 + 1.5 * lv], dtype=torch.float64)
        xs.append(torch.stack([torch.full_like(t, lv), t], -1))
        ys.append(BaranyiGrowth.curve(t, p))
    best, scores = select_surrogate_basis(torch.cat(xs), torch.cat(ys))
    assert set(scores) == {"power", "log", "piecewise"}
    assert scores["log"] < scores["power"]
    assert best in ("log", "piecewise") and scores[best] == min(scores.values())
