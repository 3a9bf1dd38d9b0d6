"""Known-answer and gradient tests for mfgp.scaling.correlations."""

from __future__ import annotations

import math

import pytest
import torch
from torch.autograd import gradcheck

from mfgp.exceptions import InputDataError
from mfgp.scaling import correlations as corr

F64 = torch.float64


def _p(*values: float) -> tuple[torch.Tensor, ...]:
    return tuple(torch.tensor(v, dtype=F64, requires_grad=True) for v in values)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_geometry_volume_and_dtype(dtype: torch.dtype) -> None:
    V = torch.tensor([0.001, 0.01, 10.0], dtype=dtype)
    g = corr.vessel_geometry(V, h_over_t=2.0, d_over_t=0.4)
    assert g.T.dtype == dtype
    torch.testing.assert_close(math.pi / 4 * g.T**2 * g.H, V, rtol=1e-5, atol=0)
    torch.testing.assert_close(g.H / g.T, torch.full_like(V, 2.0))
    torch.testing.assert_close(g.D / g.T, torch.full_like(V, 0.4))


def test_geometry_rejects_non_positive_volume() -> None:
    with pytest.raises(InputDataError, match="volume"):
        corr.vessel_geometry(torch.tensor([0.01, -1.0]))


def test_worked_example_constant_pv_and_tip_speed() -> None:
    """10 L at 500 rpm to 10,000 L: constant P/V ~107 rpm, constant tip speed 50 rpm."""
    g1, g2 = corr.vessel_geometry(0.01), corr.vessel_geometry(10.0)
    N1 = torch.tensor(500 / 60, dtype=F64)
    pv1 = corr.power_per_volume(corr.ungassed_power(N1, g1.D), 0.01)
    N2 = (pv1 * 10.0 / (5.0 * 1000.0 * g2.D**5)) ** (1 / 3)
    assert float(N2 * 60) == pytest.approx(107.7, abs=0.5)
    pv2 = corr.power_per_volume(corr.ungassed_power(N2, g2.D), 10.0)
    assert float(pv2) == pytest.approx(float(pv1), rel=1e-10)
    N3 = corr.tip_speed(N1, g1.D) / (math.pi * g2.D)
    assert float(N3 * 60) == pytest.approx(50.0, rel=1e-10)


def test_power_reynolds_tip_speed_values() -> None:
    D, N = 0.0778, 500 / 60
    assert float(corr.ungassed_power(N, D)) == pytest.approx(5 * 1000 * N**3 * D**5)
    assert float(corr.ungassed_power(N, D, n_impellers=3)) == pytest.approx(
        3 * float(corr.ungassed_power(N, D))
    )
    assert float(corr.reynolds_number(N, D)) == pytest.approx(1000 * N * D**2 / 1e-3)
    assert float(corr.tip_speed(N, D)) == pytest.approx(math.pi * N * D)


def test_power_numbers() -> None:
    assert corr.power_number("Rushton") == 5.0
    assert corr.power_number("pitched blade") == pytest.approx(1.7)
    with pytest.raises(InputDataError, match="unknown impeller"):
        corr.power_number("eggbeater")


def test_gassed_power_fraction_and_cap() -> None:
    V = 0.01
    g = corr.vessel_geometry(V)
    N = 500 / 60
    P0 = corr.ungassed_power(N, g.D)
    for vvm in (0.5, 1.0, 1.5):
        ratio = float(corr.gassed_power(P0, N, g.D, corr.gas_flow_rate(vvm, V)) / P0)
        assert 0.3 < ratio < 0.8
    # almost no gas: capped at the ungassed power
    assert float(corr.gassed_power(P0, N, g.D, 1e-12)) == pytest.approx(float(P0))


def test_superficial_gas_velocity_equals_vvm_h_over_60() -> None:
    g = corr.vessel_geometry(10.0, h_over_t=2.5)
    assert float(corr.superficial_gas_velocity(1.0, 10.0, g.T)) == pytest.approx(float(g.H) / 60.0)


def test_kla_van_t_riet_values() -> None:
    assert float(corr.kla_van_t_riet(1000.0, 0.01, coalescing=True)) == pytest.approx(
        0.026 * 1000**0.4 * 0.01**0.5
    )
    nc = float(corr.kla_van_t_riet(2000.0, 0.01))
    assert nc == pytest.approx(0.002 * 2000**0.7 * 0.01**0.2)
    assert 300 < nc * 3600 < 1500  # typical microbial kLa range (1/h)


def test_mixing_time_grenville_and_height_correction() -> None:
    N, D, T = 2.0, 0.5, 1.5
    base = float(corr.mixing_time_grenville(N, D, T))
    assert base == pytest.approx(5.2 / N * 5 ** (-1 / 3) * 9.0)
    assert float(corr.mixing_time_grenville(N, D, T, H=T)) == pytest.approx(base)
    tall = float(corr.mixing_time_grenville(N, D, T, H=2 * T))
    assert tall == pytest.approx(base * 2**2.5)


def test_kolmogorov_known_values() -> None:
    assert float(corr.kolmogorov_length(20.0)) * 1e6 == pytest.approx(84, abs=1)
    assert float(corr.kolmogorov_length(3000.0)) * 1e6 == pytest.approx(24, abs=1)


def test_oxygen_saturation_known_value_and_pressure() -> None:
    c = float(corr.oxygen_saturation(37.0))
    assert 0.19 < c < 0.24  # ~0.2 mM air at 37 C
    assert float(corr.oxygen_saturation(25.0)) > c  # colder dissolves more
    tall = float(corr.oxygen_saturation(37.0, liquid_height=10.0))
    assert 1.3 < tall / c < 1.5  # log-mean of 1 and ~2 atm
    bp = float(corr.oxygen_saturation(37.0, back_pressure=50_000.0))
    assert bp / c == pytest.approx(1.5, rel=0.02)
    pure = float(corr.oxygen_saturation(37.0, y_o2=1.0))
    assert pure / c == pytest.approx(1 / corr.AIR_O2_FRACTION)


def test_log_mean_pressure_limits() -> None:
    assert float(corr.log_mean_pressure(1e5, 1e5)) == pytest.approx(1e5)
    assert float(corr.log_mean_pressure(1e5, 2e5)) == pytest.approx(1e5 / math.log(2))


def test_heat_removal_our_sanity_range() -> None:
    """U = 500, dT = 15, jacket only: ~3000 mmol/L/h at 1 L, ~120 at 10 m3."""
    out = []
    for V in (0.001, 10.0):
        g = corr.vessel_geometry(V)
        q = corr.jacket_heat_removal(g.T, g.H, U=500.0, delta_T=15.0)
        out.append(float(corr.heat_limited_our(q, V)) * corr.MOL_M3_S_TO_MMOL_L_H)
    assert 2000 < out[0] < 3500
    assert 90 < out[1] < 160
    # agitation power eats into the cooling capacity, never below zero
    g = corr.vessel_geometry(10.0)
    q = corr.jacket_heat_removal(g.T, g.H)
    assert float(corr.heat_limited_our(q, 10.0, agitation_power_W=q * 2)) == 0.0


def test_flooding_and_flow_number() -> None:
    fl = corr.gas_flow_number(1e-3, 2.0, 0.5)
    assert float(fl) == pytest.approx(1e-3 / (2 * 0.125))
    assert float(corr.flooding_flow_number(2.0, 0.5, 1.5)) == pytest.approx(
        30 * (4 * 0.5 / corr.GRAVITY) * (1 / 3) ** 3.5
    )


def test_device_and_dtype_follow_inputs() -> None:
    x = torch.tensor([100.0, 1000.0], dtype=torch.float32)
    assert corr.kolmogorov_length(x).dtype == torch.float32
    assert corr.kla_van_t_riet(x, 0.01).dtype == torch.float32
    assert corr.oxygen_saturation(37.0).dtype == torch.float64


GRADCHECKS = {
    "geometry": (lambda v, h: corr.vessel_geometry(v, h).D, (0.5, 2.0)),
    "ungassed_power": (lambda n, d: corr.ungassed_power(n, d), (2.0, 0.5)),
    "gassed_power": (lambda p, n, d, q: corr.gassed_power(p, n, d, q), (5000.0, 2.0, 0.5, 0.02)),
    "reynolds": (lambda n, d: corr.reynolds_number(n, d), (2.0, 0.5)),
    "tip_speed": (lambda n, d: corr.tip_speed(n, d), (2.0, 0.5)),
    "p_per_v": (lambda p, v: corr.power_per_volume(p, v), (500.0, 0.2)),
    "u_s": (lambda q, v, t: corr.superficial_gas_velocity(q, v, t), (1.0, 1.0, 1.0)),
    "kla_coalescing": (lambda p, u: corr.kla_van_t_riet(p, u, coalescing=True), (800.0, 0.01)),
    "kla_non_coalescing": (lambda p, u: corr.kla_van_t_riet(p, u), (800.0, 0.01)),
    "mixing_time": (
        lambda n, d, t, h: corr.mixing_time_grenville(n, d, t, H=h),
        (2.0, 0.5, 1.5, 3.5),
    ),
    "kolmogorov": (lambda p: corr.kolmogorov_length(p), (200.0,)),
    "oxygen_saturation": (
        lambda tc, h: corr.oxygen_saturation(tc, liquid_height=h),
        (37.0, 5.0),
    ),
    "jacket": (lambda t, h: corr.jacket_heat_removal(t, h), (1.5, 3.0)),
    "heat_our": (lambda q, v: corr.heat_limited_our(q, v), (30000.0, 5.0)),
    "flooding": (lambda n, d, t: corr.flooding_flow_number(n, d, t), (2.0, 0.5, 1.5)),
    "gas_flow_rate": (lambda q, v: corr.gas_flow_rate(q, v), (1.2, 3.0)),
    "gas_flow_number": (lambda q, n, d: corr.gas_flow_number(q, n, d), (0.02, 2.0, 0.5)),
    "henry": (lambda tc: corr.henry_solubility_o2(tc), (30.0,)),
    "log_mean_pressure": (lambda a, b: corr.log_mean_pressure(a, b), (1.0e5, 1.7e5)),
}


@pytest.mark.parametrize("name", sorted(GRADCHECKS))
def test_gradcheck_float64(name: str) -> None:
    fn, values = GRADCHECKS[name]
    assert gradcheck(fn, _p(*values), eps=1e-6, atol=1e-5, rtol=1e-4)


def test_co2_solubility_known_answers():
    """Sander (2015): kH(CO2) = 0.034 mol/(L atm) at 25 C, d ln kH / d(1/T) = 2400 K."""
    from mfgp.scaling.correlations import ATMOSPHERE_PA, henry_solubility_co2

    per_l_atm = 1e-3 * ATMOSPHERE_PA
    assert float(henry_solubility_co2(25.0)) * per_l_atm == pytest.approx(0.034, rel=1e-9)
    expected = 0.034 * math.exp(2400.0 * (1.0 / 310.15 - 1.0 / 298.15))
    assert float(henry_solubility_co2(37.0)) * per_l_atm == pytest.approx(expected, rel=1e-9)


def test_co2_partial_pressure_is_exit_gas_plus_film_term():
    """5 mmol/L/h of CO2 at 0.05 vvm, kLa_CO2 10/h, 1 atm: the exit gas holds
    CER / n_gas = 4.24 % CO2 (32.2 mmHg) and the film needs CER / (kLa kH) = 15.3 mmHg more
    (hand calculation, R = 8.314 J/mol/K, 37 C)."""
    from mfgp.scaling.correlations import co2_partial_pressure

    mmhg = 133.322
    p = co2_partial_pressure(5.0 / 3600, 10.0 / 3600, 0.05) / mmhg
    assert float(p) == pytest.approx(32.2 + 15.3, abs=0.2)
    # twice the aeration halves the exit-gas term; a tall tank's mean pressure raises it
    p2 = co2_partial_pressure(5.0 / 3600, 10.0 / 3600, 0.10) / mmhg
    assert float(p - p2) == pytest.approx(32.2 / 2, abs=0.1)
    tall = co2_partial_pressure(5.0 / 3600, 10.0 / 3600, 0.05, mean_pressure=2 * 101325.0)
    assert float(tall / mmhg - p) == pytest.approx(32.2, abs=0.2)
