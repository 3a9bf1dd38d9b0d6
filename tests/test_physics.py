"""The physics level: capacities, kinetics and calibration (mfgp.physics)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mfgp.exceptions import InputDataError, NotFittedError
from mfgp.physics import (
    PHYSICS_PRIORS,
    PhysicsLevel,
    VesselSet,
    capacity_groups,
    constant_pv_rpm,
    limitation,
    target_kind,
)
from mfgp.physics.kinetics import growth_shape
from mfgp.scaling.criteria import Vessel, operating_point

F64 = torch.float64


def _t(values):
    return torch.tensor(values, dtype=F64)


# ------------------------------------------------------------------ capacity
def test_constant_pv_rpm_gives_the_asked_power_per_volume():
    for volume in (2.0, 200.0, 50000.0):
        vessel = Vessel(volume)
        op = operating_point(vessel, constant_pv_rpm(vessel, 500.0), 1.0)
        assert float(op.p_per_v_ungassed) == pytest.approx(500.0, rel=1e-9)


def test_capacity_groups_follow_operating_point_and_scale():
    vol = _t([2.0, 2.0, 50000.0])
    rpm, vvm = _t([300.0, 600.0, 40.0]), _t([0.5, 0.5, 0.5])
    g = capacity_groups(vol, rpm, vvm)
    op = operating_point(Vessel(2.0), _t([300.0, 600.0]), _t([0.5, 0.5]))
    assert torch.allclose(g["kla_per_h"][:2], op.kla_per_h)
    assert torch.allclose(g["otr_max"][:2], op.otr_max_mmol_L_h)
    assert g["otr_max"][1] > g["otr_max"][0]  # faster stirring, more transfer
    assert g["heat_our_max"][2] < g["heat_our_max"][0] / 10  # cooling per volume falls
    assert g["mixing_time_s"][2] > 10 * g["mixing_time_s"][0]


def test_pure_oxygen_sparge_scales_otr_and_config_vessels_are_used():
    vol = _t([200.0])
    air = capacity_groups(vol, _t([150.0]), _t([0.1]))
    o2 = capacity_groups(vol, _t([150.0]), _t([0.1]), VesselSet(o2_fraction=1.0))
    assert float(o2["otr_max"] / air["otr_max"]) == pytest.approx(1.0 / 0.2095, rel=1e-9)
    vs = VesselSet.from_config({"200 L": {"cooling_W_per_K": 1.0e4}})
    cooled = capacity_groups(vol, _t([150.0]), _t([0.1]), vs)
    assert cooled["heat_our_max"] > air["heat_our_max"]
    assert vs.sources == {"200 L": "config"}


def test_vessel_config_errors_name_the_vessel():
    with pytest.raises(InputDataError, match="pilot"):
        VesselSet.from_config({"pilot": {"diameter_m": 1.0}})
    with pytest.raises(InputDataError, match="o2_fraction"):
        VesselSet.from_config({}, o2_fraction=1.5)


# ------------------------------------------------------------------ kinetics
def _groups(otr, heat=1e4, tmix=0.0, pco2=0.0):
    n = len(otr)
    return {
        "otr_max": _t(otr),
        "heat_our_max": _t([heat] * n),
        "mixing_time_s": _t([tmix] * n),
        "pco2_per_our": _t([pco2] * n),
    }


def test_limitation_known_answers():
    theta = _t([math.log(20.0), math.log(150.0), math.log(1000.0)])
    # supply = demand: (1 + 1)^(-1/4)
    f = limitation(_groups([20.0]), theta)
    assert float(f) == pytest.approx(2**-0.25, rel=1e-12)
    # pCO2 = K_CO2 (CO2 alone; 150 mmHg from 20 mmol/L/h at 7.5 mmHg per unit): f = 1/2
    f = limitation(_groups([1e9], pco2=7.5), theta)
    assert float(f) == pytest.approx(0.5, rel=1e-9)
    # mixing time = t_M: f = 1/2
    f = limitation(_groups([1e9], tmix=1000.0), theta)
    assert float(f) == pytest.approx(0.5, rel=1e-9)


@settings(max_examples=40, deadline=None)
@given(
    st.floats(0.1, 1e4),
    st.floats(0.1, 1e4),
    st.floats(0.0, 1e3),
    st.floats(0.0, 20.0),
    st.floats(-2.0, 7.0),
)
def test_limitation_lies_in_unit_interval_and_falls_with_less_supply(otr, heat, tmix, pco2, d):
    theta = _t([d, math.log(150.0), math.log(1000.0)])
    parts = limitation(_groups([otr, otr / 2], heat, tmix, pco2), theta, parts=True)
    for key in ("f", "f_oxygen_heat", "f_co2", "f_mixing"):
        assert bool(((parts[key] > 0) & (parts[key] <= 1)).all()), key
    # less supply serves less of the demand (and so, at RQ 1, makes less CO2)
    assert parts["f_oxygen_heat"][1] <= parts["f_oxygen_heat"][0] + 1e-12
    assert parts["pco2_mmHg"][1] <= parts["pco2_mmHg"][0] + 1e-12


def test_growth_shape_known_answers():
    th = _t([math.log(0.2), math.log(0.05 / 0.95), 0.0])
    t = _t([0.0, 1e3])
    x = growth_shape(t, th, "biomass", 36.0)
    assert x.tolist() == pytest.approx([0.05, 1.0], rel=1e-9)
    # product: p(0) = 0, and the integral term matches numerical quadrature
    tt = torch.linspace(0.0, 36.0, 20001, dtype=F64)
    p = growth_shape(tt, th, "product", 36.0)
    xs = growth_shape(tt, th, "biomass", 36.0)
    quad = 0.5 * (xs - 0.05) + 0.5 * torch.cumulative_trapezoid(xs, tt, dim=-1)[-1] / 36.0
    assert float(p[0]) == pytest.approx(0.0, abs=1e-12)
    assert float(p[-1]) == pytest.approx(float(quad[-1]), rel=1e-6)


def test_target_kind():
    assert target_kind("VCD (1e6/mL)") == "biomass"
    assert target_kind("titer_gL") == "product"
    assert target_kind(None) == "product"


# --------------------------------------------------------------- calibration
def _planted(seed=0, n=40, noise=0.02):
    """End-point runs at 2-200 L whose stirrer speed varies, so that the oxygen supply falls
    short in some: the demand is identifiable."""
    gen = np.random.default_rng(seed)
    vol = _t(gen.choice([2.0, 20.0, 200.0], n).tolist())
    rpm = _t(gen.uniform(60.0, 400.0, n).tolist())
    vvm = _t(gen.uniform(0.2, 1.0, n).tolist())
    X = torch.stack([vol.log10(), rpm, vvm], -1)
    truth = {"log_our_demand": math.log(30.0), "log_t_mix": math.log(400.0)}
    theta = _t([truth["log_our_demand"], math.log(150.0), truth["log_t_mix"]])
    f = limitation(capacity_groups(vol, rpm, vvm), theta)
    y = 5.0 * f * (1.0 + noise * torch.as_tensor(gen.standard_normal(n), dtype=F64))
    return X, y, truth


def test_calibration_recovers_planted_parameters_within_their_uncertainty():
    X, y, truth = _planted()
    level = PhysicsLevel(rpm_column=1, vvm_column=2, seed=1).fit_features(X, y)
    table = level.parameters_table().set_index("parameter")
    for name, value in truth.items():
        est, sd = table.loc[name, "map"], table.loc[name, "sd"]
        assert abs(est - value) < 3.0 * sd, (name, est, value, sd)
        assert sd < 0.5 * PHYSICS_PRIORS[name][1]  # identified by the data
    assert float(table.loc["log_amplitude", "map"]) == pytest.approx(math.log(5.0), abs=0.05)


def test_unidentified_limits_keep_their_prior_spread_and_widen_at_scale():
    lv = _t([0.0, 0.5, 1.0, 1.5, 2.0]).repeat(3)
    y = 4.0 + 0.05 * torch.sin(torch.arange(15.0, dtype=F64))
    level = PhysicsLevel(seed=0).fit_features(lv.unsqueeze(-1), y)
    table = level.parameters_table().set_index("parameter")
    assert table.loc["log_k_co2", "sd"] == pytest.approx(PHYSICS_PRIORS["log_k_co2"][1], rel=0.2)
    far = level.variance(_t([[1.0], [2.5], [4.7]]))
    assert far[2] > far[1] > far[0]


def test_level_draws_are_seeded_and_state_round_trips():
    X, y, _ = _planted(n=20)
    a = PhysicsLevel(rpm_column=1, vvm_column=2, seed=3).fit_features(X, y)
    b = PhysicsLevel(rpm_column=1, vvm_column=2, seed=3).fit_features(X, y)
    assert torch.allclose(a.draws_, b.draws_)
    c = PhysicsLevel(**{k: v for k, v in a.get_config().items() if k != "kind"})
    c.load_state_dict(a.state_dict())
    assert torch.allclose(c(X), a(X))
    assert torch.allclose(c.variance(X), a.variance(X))


def test_time_course_level_fits_growth_curves():
    t = torch.arange(0.0, 37.0, 3.0, dtype=F64)
    lv = _t([0.0, 1.0, 2.0])
    X = torch.cartesian_prod(lv, t)
    x = 1.0 / (1.0 + (1.0 / 0.02 - 1.0) * torch.exp(-0.35 * X[:, 1]))
    y = 30.0 * x
    level = PhysicsLevel(target_kind="biomass", time_column=1).fit_features(X, y)
    assert float((level(X) - y).abs().max()) < 0.5
    table = level.parameters_table().set_index("parameter")
    assert math.exp(table.loc["log_mu", "map"]) == pytest.approx(0.35, rel=0.05)


def test_level_errors():
    with pytest.raises(InputDataError, match="target_kind"):
        PhysicsLevel(target_kind="yield")
    with pytest.raises(NotFittedError):
        PhysicsLevel()(_t([[1.0]]))
    with pytest.raises(InputDataError, match="at least 3 rows"):
        PhysicsLevel().fit_features(_t([[1.0]]), _t([1.0]))
    with pytest.raises(InputDataError, match="NaN"):
        PhysicsLevel().fit_features(_t([[1.0], [2.0], [math.nan]]), _t([1.0, 1.0, 1.0]))


def test_capacity_curve_holds_power_per_volume():
    X, y, _ = _planted(n=20)
    level = PhysicsLevel(rpm_column=1, vvm_column=2).fit_features(X, y)
    curve = level.capacity_curve([2.0, 200.0, 10000.0], X[0])
    assert curve["p_per_v"].std() / curve["p_per_v"].mean() < 0.3
    assert {"f", "f_oxygen_heat", "f_co2", "f_mixing", "level_sd"} <= set(curve.columns)
