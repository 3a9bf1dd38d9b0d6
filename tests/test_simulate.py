"""Tests for the mechanistic fed-batch simulator: plausibility, scale trends, noise, errors."""

from __future__ import annotations

import time

import numpy as np
import pytest

from mfgp.exceptions import InputDataError
from mfgp.scaling.criteria import Vessel
from mfgp.simulate import SimulationResult, kinetics_with, simulate


@pytest.fixture(scope="module")
def pv_runs() -> dict[tuple[float, bool], SimulationResult]:
    """Constant-P/V runs (full and simplified) from 10 L to 50 m3."""
    return {
        (v, simp): simulate(v, simplified=simp)
        for v in (10.0, 1000.0, 10000.0, 50000.0)
        for simp in (False, True)
    }


def test_lab_run_is_plausible_and_fast() -> None:
    t0 = time.perf_counter()
    r = simulate(10.0)
    assert time.perf_counter() - t0 < 1.0
    assert r.time_h.shape == (13,) and r.time_h[-1] == 36.0
    assert 40 < r.biomass_gL[-1] < 80  # high-cell-density E. coli: tens of g/L
    assert 2 < r.titer_gL[-1] < 10
    assert np.all(np.diff(r.biomass_gL) > -1e-6) and np.all(np.diff(r.titer_gL) >= -1e-9)
    assert r.titer_gL[0] == 0.0 and r.biomass_gL[0] == pytest.approx(0.15)
    assert np.all((r.do_percent >= 0) & (r.do_percent <= 100))
    assert np.all(r.substrate_gL >= 0) and r.substrate_gL[0] == pytest.approx(15.0)
    assert not r.simplified
    df = r.to_frame()
    assert list(df.columns[:4]) == ["volume_L", "time_h", "rpm", "vvm"] and len(df) == 13


def test_constant_tip_speed_performance_falls_with_scale() -> None:
    finals = [simulate(v, rule="constant-tip-speed").titer_gL[-1] for v in (10.0, 1000.0, 50000.0)]
    assert finals[0] > finals[1] > finals[2]
    assert finals[2] < 0.6 * finals[0]


def test_larger_tanks_mix_slower(pv_runs) -> None:  # noqa: ANN001
    theta = [float(pv_runs[(v, False)].conditions.mixing_time_s) for v in (10.0, 1000.0, 50000.0)]
    assert theta[0] < theta[1] < theta[2]
    assert theta[0] < 5 and theta[2] > 60  # seconds in the lab, minutes-ish in production


def test_heat_removal_limits_our_at_large_volume(pv_runs) -> None:  # noqa: ANN001
    heat = [
        float(pv_runs[(v, False)].conditions.heat_our_max_mmol_L_h)
        for v in (10.0, 1000.0, 10000.0, 50000.0)
    ]
    assert heat == sorted(heat, reverse=True)
    big = pv_runs[(50000.0, False)]
    assert big.limited_by == "heat" and big.feed_cap_gLh < 6.5
    assert pv_runs[(50000.0, True)].limited_by == "none"  # the simplified model ignores heat


def test_production_worse_than_lab_at_constant_pv(pv_runs) -> None:  # noqa: ANN001
    lab = pv_runs[(10.0, False)]
    for v in (10000.0, 50000.0):
        big = pv_runs[(v, False)]
        assert big.biomass_gL[-1] < 0.95 * lab.biomass_gL[-1]
        assert big.titer_gL[-1] < 0.95 * lab.titer_gL[-1]
    # the simplified model is optimistic at production scale, close in the lab
    for key in ("biomass_gL", "titer_gL"):
        full = getattr(pv_runs[(50000.0, False)], key)[-1]
        simp = getattr(pv_runs[(50000.0, True)], key)[-1]
        assert simp > 1.15 * full
        lab_full, lab_simp = getattr(lab, key)[-1], getattr(pv_runs[(10.0, True)], key)[-1]
        assert lab_simp == pytest.approx(lab_full, rel=0.08)


def test_oxygen_limitation_with_low_agitation() -> None:
    low = simulate(10.0, rpm=400.0)
    high = simulate(10.0, rpm=1000.0)
    assert low.limited_by == "oxygen"
    assert low.biomass_gL[-1] < high.biomass_gL[-1]


def test_noise_is_seeded_and_local() -> None:
    a = simulate(10.0, noise=0.05, seed=3)
    b = simulate(10.0, noise=0.05, seed=3)
    c = simulate(10.0, noise=0.05, seed=np.random.default_rng(4))
    clean = simulate(10.0)
    np.testing.assert_array_equal(a.biomass_gL, b.biomass_gL)
    assert not np.array_equal(a.biomass_gL, c.biomass_gL)
    assert not np.array_equal(a.biomass_gL, clean.biomass_gL)
    rel = a.biomass_gL[1:] / clean.biomass_gL[1:]
    assert np.all(np.abs(np.log(rel)) < 0.3)
    # no global RNG used
    state = np.random.get_state()[1].copy()
    simulate(10.0, noise=0.05, seed=1)
    np.testing.assert_array_equal(state, np.random.get_state()[1])


def test_explicit_times_vessel_and_kinetics() -> None:
    r = simulate(
        100.0,
        times=np.array([0.0, 5.0, 20.0, 40.0]),
        vessel=Vessel(100.0, h_over_t=2.0, n_impellers=2),
        kinetics=kinetics_with(alpha=0.1),
    )
    np.testing.assert_array_equal(r.time_h, [0.0, 5.0, 20.0, 40.0])
    assert r.conditions.n_impellers == 2
    assert r.titer_gL[-1] > simulate(100.0, times=np.array([0.0, 40.0])).titer_gL[-1]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"volume_L": -1.0}, "volume_L"),
        ({"volume_L": 10.0, "vvm": 0.0}, "vvm"),
        ({"volume_L": 10.0, "rpm": -5.0}, "rpm"),
        ({"volume_L": 10.0, "rule": "constant-hope"}, "unknown scale-up rule"),
        ({"volume_L": 10.0, "feed_gLh": -1.0}, "feed"),
        ({"volume_L": 10.0, "times": np.array([3.0, 1.0])}, "times"),
        ({"volume_L": 10.0, "times": np.array([1.0, 1.0])}, "times"),
        ({"volume_L": 10.0, "noise": -0.1}, "noise"),
        ({"volume_L": 10.0, "rpm": 500.0, "rule": "constant-hope"}, "unknown scale-up rule"),
    ],
)
def test_bad_inputs(kwargs: dict, match: str) -> None:
    with pytest.raises(InputDataError, match=match):
        simulate(**kwargs)


def test_kinetics_with_rejects_unknown_names() -> None:
    with pytest.raises(InputDataError, match="unknown kinetic"):
        kinetics_with(q_max=1.0)


def test_cli_simulate(tmp_path, capsys) -> None:  # noqa: ANN001
    from mfgp.cli import main

    assert main(["-q", "simulate", "--volume", "1000", "--rule", "constant-tip-speed"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("volume_L,time_h,rpm") and len(lines) == 14
    out = tmp_path / "run.csv"
    assert main(["-q", "simulate", "--volume", "10", "--noise", "0.05", "--out", str(out)]) == 0
    assert out.read_text().count("\n") == 14
    assert main(["-q", "simulate", "--volume", "-3"]) == 2
