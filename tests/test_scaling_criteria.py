"""Tests for the scale-up rules in mfgp.scaling.criteria."""

from __future__ import annotations

import pytest

from mfgp.exceptions import InputDataError
from mfgp.scaling.criteria import (
    RULES,
    Vessel,
    default_aspect_ratio,
    operating_point,
    scale_up,
)

REF = Vessel(10.0, h_over_t=1.0)


def test_worked_example_rpm() -> None:
    assert float(scale_up(REF, 500.0, 10000.0, "constant-P/V").rpm) == pytest.approx(107.7, abs=0.5)
    assert float(scale_up(REF, 500.0, 10000.0, "constant-tip-speed").rpm) == pytest.approx(50.0)


def test_constant_kla_is_between_and_near_literature() -> None:
    kla = scale_up(REF, 500.0, 10000.0, "constant-kLa")
    ref = operating_point(REF, 500.0)
    assert float(kla.kla_per_h) == pytest.approx(float(ref.kla_per_h), rel=1e-6)
    assert 70 < float(kla.rpm) < 100  # Palomares et al.: ~79 rpm


@pytest.mark.parametrize(
    ("rule", "quantity"),
    [
        ("constant-P/V", "p_per_v_ungassed"),
        ("constant-tip-speed", "tip_speed"),
        ("constant-kLa", "kla_per_h"),
        ("constant-mixing-time", "mixing_time_s"),
        ("constant-Re", "reynolds"),
    ],
)
def test_rule_keeps_its_quantity(rule: str, quantity: str) -> None:
    ref = operating_point(REF, 600.0, 1.2)
    target = Vessel(2000.0, h_over_t=2.0, n_impellers=2)
    out = scale_up(REF, 600.0, target, rule, vvm=1.2)
    assert float(getattr(out, quantity)) == pytest.approx(float(getattr(ref, quantity)), rel=1e-6)


def test_trends_under_geometric_similarity() -> None:
    pv = scale_up(REF, 500.0, 10000.0, "constant-P/V")
    tip = scale_up(REF, 500.0, 10000.0, "constant-tip-speed")
    ref = operating_point(REF, 500.0)
    # constant P/V: tip speed ~ D^(1/3) (x10^(1/3)), mixing time ~ D^(2/3)
    assert float(pv.tip_speed / ref.tip_speed) == pytest.approx(10 ** (1 / 3), rel=1e-6)
    assert float(pv.mixing_time_s / ref.mixing_time_s) == pytest.approx(10 ** (2 / 3), rel=1e-6)
    # constant tip speed: P/V ~ 1/D, mixing time ~ D
    assert float(tip.p_per_v_ungassed / ref.p_per_v_ungassed) == pytest.approx(0.1, rel=1e-6)
    assert float(tip.mixing_time_s / ref.mixing_time_s) == pytest.approx(10.0, rel=1e-6)


def test_constant_mixing_time_crosses_limits() -> None:
    out = scale_up(REF, 500.0, 10000.0, "constant-mixing-time")
    assert out.tip_speed_exceeded and out.heat_limited
    ok = scale_up(REF, 500.0, 10000.0, "constant-tip-speed", design_our_mmol_L_h=80.0)
    assert not ok.tip_speed_exceeded and not ok.heat_limited


def test_heat_limit_appears_at_large_volume() -> None:
    # jacket (U = 500, dT = 15) cools ~150 mmol O2/L/h only up to a few m3
    assert not scale_up(REF, 500.0, 100.0, "constant-P/V").heat_limited
    assert scale_up(REF, 500.0, 10000.0, "constant-P/V").heat_limited


def test_flooding_flag() -> None:
    assert operating_point(Vessel(10000.0, h_over_t=1.0), 30.0, 2.0).flooded
    assert not operating_point(REF, 800.0, 0.5).flooded


def test_constant_us_lowers_vvm_at_scale() -> None:
    out = scale_up(REF, 500.0, 10000.0, "constant-P/V", aeration="constant-us")
    ref = operating_point(REF, 500.0)
    assert float(out.u_s) == pytest.approx(float(ref.u_s), rel=1e-6)
    assert float(out.vvm) == pytest.approx(0.1, rel=1e-6)  # vvm ~ V^(-1/3)


@pytest.mark.parametrize("alias", ["P/V", "pv", "tip speed", "KLA", "constant_Re", "mixing-time"])
def test_rule_aliases(alias: str) -> None:
    assert float(scale_up(REF, 500.0, 100.0, alias).rpm) > 0


def test_bad_inputs() -> None:
    with pytest.raises(InputDataError, match="unknown scale-up rule"):
        scale_up(REF, 500.0, 100.0, "constant-vibes")
    with pytest.raises(InputDataError, match="volume_L"):
        Vessel(-5.0)
    with pytest.raises(InputDataError, match="rpm"):
        operating_point(REF, 0.0)
    with pytest.raises(InputDataError, match="aeration"):
        scale_up(REF, 500.0, 100.0, aeration="more")
    with pytest.raises(InputDataError):
        default_aspect_ratio(0.0)


def test_defaults_and_as_dict() -> None:
    assert len(RULES) == 5
    assert Vessel(10000.0).aspect == 2.5 and Vessel(10000.0).n_impellers_resolved == 2
    d = operating_point(REF, 500.0).as_dict()
    assert isinstance(d["kla_per_h"], float) and isinstance(d["flooded"], bool)
