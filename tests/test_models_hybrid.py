"""``hybrid``: AR1 with an automatic scaling-law level 0 on measurement-only data."""

from __future__ import annotations

import math
import warnings

import pytest
import torch

from mfgp.data import ScaleUpData
from mfgp.exceptions import InputDataError, MFGPWarning
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
    assert model.fit_choices() == {
        "cheap_level": "scaling_law",  # no vessels described: no physics level unless asked
        "surrogate_basis": model.metadata["surrogate"]["basis"],
    }
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


def test_cheap_level_options_on_data_with_cheap_levels_are_reported_unused(mf_frame):
    train, _ = ScaleUpData(mf_frame, target="C").holdout_largest(1)
    with pytest.warns(MFGPWarning, match="option physics_inputs not used"):
        HybridGP(physics_inputs=True, restarts=1, maxiter=5).fit(train)
    with warnings.catch_warnings():
        warnings.simplefilter("error", MFGPWarning)
        HybridGP(restarts=1, maxiter=5).fit(train)  # the defaults: nothing to report


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
        HybridGP(restarts=1, cheap_level="scaling_law").fit(train)
    # with the vessels described, the automatic choice falls back to the physics level,
    # which needs no curve per run
    vessels = {"20 L": {"h_over_t": 1.0}}
    model = HybridGP(restarts=1, maxiter=30, physics={"vessels": vessels}).fit(train)
    assert model.fit_choices()["cheap_level"] == "physics"


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


# ------------------------------------------------------------- physics level
def _oxygen_limited(seed: int = 0):
    """End-point titer of runs at 2 L-10 m3 whose oxygen supply (kLa C*, from the stirrer speed
    and the aeration) falls short of a demand of 30 mmol/L/h in the slower-stirred runs: a
    process written with mfgp.scaling's correlations, not with the physics level's kinetics."""
    import numpy as np
    import pandas as pd

    from mfgp.scaling.criteria import Vessel, operating_point

    rng = np.random.default_rng(seed)
    rows = []
    for volume in (2.0, 20.0, 200.0, 1000.0, 10000.0):
        for _ in range(6):
            rpm = float(rng.uniform(0.5, 1.5)) * 400.0 * (volume / 2.0) ** (-2.0 / 9.0)
            vvm = float(rng.uniform(0.3, 1.0))
            otr = float(operating_point(Vessel(volume), rpm, vvm).otr_max_mmol_L_h)
            served = min(1.0, otr / 30.0)
            titer = 6.0 * served * (1.0 + 0.02 * rng.standard_normal())
            rows.append({"volume_L": volume, "rpm": rpm, "vvm": vvm, "titer_gL": titer})
    return ScaleUpData(pd.DataFrame(rows), target="titer_gL").holdout_largest(1)


def test_physics_level_when_it_predicts_the_larger_volumes_better(tmp_path):
    from mfgp.physics import PhysicsLevel

    train, test = _oxygen_limited()
    # no vessels described: the scaling law, unless the physics level is asked for
    assert HybridGP(restarts=1, maxiter=30).fit(train).fit_choices()["cheap_level"] == (
        "scaling_law"
    )
    vessels = {"2 L": {"h_over_t": 1.0}}  # the geometry the process was written with
    model = HybridGP(restarts=1, maxiter=60, physics={"vessels": vessels}).fit(train, seed=0)
    assert model.fit_choices()["cheap_level"] == "physics"
    scores = model.metadata["cheap_level_rmse"]
    assert sum(scores["physics"]) < sum(scores["scaling_law"])
    assert isinstance(model.level0, PhysicsLevel)
    pred = model.predict(test.X)
    rmse = float(torch.sqrt(torch.mean((pred.mean - test.Y.squeeze(-1)) ** 2)))
    law = HybridGP(restarts=1, maxiter=60, cheap_level="scaling_law").fit(train, seed=0)
    rmse_law = float(torch.sqrt(torch.mean((law.predict(test.X).mean - test.Y[:, 0]) ** 2)))
    assert rmse < rmse_law
    # the physics level's calibration covariance is added to the GP's: collapsing its
    # parameter draws onto the MAP removes it, from the bands and from the joint posterior
    with torch.no_grad():
        cov = model.posterior(test.X).distribution.covariance_matrix
        draws = model.level0.draws_.clone()
        model.level0.draws_ = model.level0.theta_.expand_as(draws).clone()
        plain = model.predict(test.X)
        plain_cov = model.posterior(test.X).distribution.covariance_matrix
        model.level0.draws_ = draws
    assert bool((pred.variance > plain.variance).all())
    off = ~torch.eye(len(test), dtype=torch.bool)
    assert float((cov - plain_cov)[off].abs().max()) > 0  # shared across points, not white
    curve = model.physics_curve([2.0, 1000.0, 50000.0], train.X[0])
    assert list(curve["volume_L"]) == [2.0, 1000.0, 50000.0]
    model.save(tmp_path / "m")
    back = load_model(tmp_path / "m")
    assert isinstance(back.level0, PhysicsLevel)
    torch.testing.assert_close(back.predict(test.X).mean, pred.mean)
    torch.testing.assert_close(back.predict(test.X).variance, pred.variance)


def test_cheap_level_and_physics_options_are_checked():
    with pytest.raises(InputDataError, match="cheap_level"):
        HybridGP(cheap_level="mechanistic")
    with pytest.raises(InputDataError, match="unknown physics option 'vessel'"):
        HybridGP(physics={"vessel": {}})
    # the vessels are checked when the model is made: under cheap_level="auto" a physics
    # level that cannot be built would only lose the forward-chaining comparison
    with pytest.raises(InputDataError, match="not a volume"):
        HybridGP(physics={"vessels": {"pilot": {}}})
    with pytest.raises(InputDataError, match="'200 L' has unknown key 'diametr_m'"):
        HybridGP(physics={"vessels": {"200 L": {"diametr_m": 0.5}}})
    with pytest.raises(InputDataError, match="vessel 200 L: h_over_t must be positive"):
        HybridGP(physics={"vessels": {"200 L": {"h_over_t": -2.0}}})
    with pytest.raises(InputDataError, match="o2_fraction"):
        HybridGP(physics={"o2_fraction": 2.0})
    with pytest.raises(InputDataError, match="table of vessels"):
        HybridGP(physics={"vessels": 3})
    HybridGP(physics={"vessels": {"200 L": {"h_over_t": 2.0, "diameter_m": 0.5}}})


def test_capacity_groups_as_gp_inputs(tmp_path):
    from mfgp.models.hybrid import PHYSICS_INPUTS

    train, test = _oxygen_limited()
    model = HybridGP(restarts=1, maxiter=40, physics_inputs=True).fit(train, seed=0)
    assert model.train_X_.shape[-1] == train.X.shape[-1] + len(PHYSICS_INPUTS)
    pred = model.predict(test.X)
    assert torch.isfinite(pred.mean).all() and (pred.variance > 0).all()
    # the GP's extra inputs follow the vessel: faster stirring, more kLa
    fast = test.X[:1].clone()
    fast[:, 1] *= 2.0
    with torch.no_grad():
        assert float(model.posterior(fast).mean) != float(model.posterior(test.X[:1]).mean)
    model.save(tmp_path / "m")
    torch.testing.assert_close(load_model(tmp_path / "m").predict(test.X).mean, pred.mean)
    with pytest.raises(InputDataError, match="unknown physics input 'kla'"):
        HybridGP(physics_inputs=["kla"])


def test_vessel_geometry_values_must_be_numbers():
    with pytest.raises(
        InputDataError, match="vessel 200 L: n_impellers must be a number, got 'two'"
    ):
        HybridGP(physics={"vessels": {"200 L": {"n_impellers": "two"}}})
