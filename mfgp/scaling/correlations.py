"""Engineering correlations for stirred-tank scale-up: pure, vectorised torch functions in SI units.

Every function takes tensors (or Python floats) in SI units (m, m3, s, W, Pa, kg/m3, mol/m3),
broadcasts its arguments, returns a tensor on the device and in the dtype of its tensor inputs
(float64 when only Python numbers are given) and is differentiable wherever the correlation is
smooth. Rates such as ``N`` are in 1/s (rpm / 60).

References:
    - Geometry: a flat-bottomed cylinder, ``V = pi/4 T^2 H``; geometric similarity scales every
      length as ``V^(1/3)``.
    - Power: ``P0 = n Np rho N^3 D^5`` (turbulent, ``Re > 1e4``; impellers spaced at least one
      ``D`` apart); Np ~ 5 for a Rushton turbine (Rushton, Costich & Everett 1950,
      Chem. Eng. Prog. 46:395).
    - Gassed power: Michel & Miller (1962), AIChE J. 8:262,
      ``Pg = c (P0^2 N D^3 / Q^0.56)^0.45``.
    - van 't Riet (1979), Ind. Eng. Chem. Process Des. Dev. 18:357: ``kLa = 0.026 (Pg/V)^0.4
      u_s^0.5`` (coalescing, water) and ``0.002 (Pg/V)^0.7 u_s^0.2`` (non-coalescing, ionic),
      kLa in 1/s; fitted on vessels up to a few m3, +-20-40 %.
    - Grenville (1992), PhD thesis, Cranfield; Grenville & Nienow (2004), Handbook of Industrial
      Mixing ch. 9: ``N theta95 = 5.2 Np^(-1/3) (T/D)^2`` (turbulent, baffled, H = T).
      Taller multi-impeller tanks mix more slowly, roughly as ``(H/T)^2`` to ``(H/T)^2.5``
      (Cooke, Heggs, Eaglesham & Housley 1988; a rule of thumb).
    - Kolmogorov (1941): ``eta = (nu^3 / eps)^(1/4)``.
    - Oxygen solubility: Henry's law with the van 't Hoff temperature dependence of Sander (2015),
      Atmos. Chem. Phys. 15:4399 (O2: ``kH = 1.3e-3 mol/(L atm)`` at 298.15 K,
      ``d ln kH / d(1/T) = 1500 K``); the hydrostatic head enters as the log-mean pressure.
    - Heat: about 460 kJ of metabolic heat per mol O2 consumed (Cooney, Wang & Wang 1969,
      Biotechnol. Bioeng. 11:269); jacket capacity ``U A dT``.
    - Dissolved CO2: Royce & Thornhill (1991), AIChE J. 37:1680 (``kLa_CO2 = 0.89 kLa_O2``, the
      square root of the diffusivity ratio); Henry solubility of CO2 0.034 mol/(L atm) at 25 C
      with ``d ln kH / d(1/T) = 2400 K`` (Sander 2015).
    - Nienow, Wisdom & Middleton (1977): Rushton flooding at ``Fl_G = 30 Fr (D/T)^3.5``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

from mfgp.exceptions import InputDataError
from mfgp.settings import DEFAULT_DTYPE

__all__ = [
    "AIR_O2_FRACTION",
    "ATMOSPHERE_PA",
    "GRAVITY",
    "HEAT_PER_MOL_O2",
    "MOL_M3_S_TO_MMOL_L_H",
    "POWER_NUMBERS",
    "Geometry",
    "co2_partial_pressure",
    "flooding_flow_number",
    "gas_flow_rate",
    "gas_flow_number",
    "gassed_power",
    "heat_limited_our",
    "henry_solubility_co2",
    "henry_solubility_o2",
    "jacket_heat_removal",
    "kla_van_t_riet",
    "kolmogorov_length",
    "log_mean_pressure",
    "mixing_time_grenville",
    "oxygen_saturation",
    "power_number",
    "power_per_volume",
    "reynolds_number",
    "superficial_gas_velocity",
    "tip_speed",
    "ungassed_power",
    "vessel_geometry",
]

GRAVITY = 9.80665  #: m/s2
ATMOSPHERE_PA = 101325.0  #: Pa
AIR_O2_FRACTION = 0.2095  #: mole fraction of O2 in dry air
HEAT_PER_MOL_O2 = 460e3  #: J of metabolic heat per mol O2 consumed (Cooney et al. 1969)
MOL_M3_S_TO_MMOL_L_H = 3600.0  #: 1 mol/m3/s = 3600 mmol/L/h

Num = Tensor | float

#: Turbulent power numbers of common impellers (baffled tanks; Rushton et al. 1950, Nienow 1998;
#: hydrofoil and propeller values are typical vendor figures, check yours).
POWER_NUMBERS: dict[str, float] = {
    "rushton": 5.0,
    "pitched-blade": 1.7,
    "marine-propeller": 0.35,
    "hydrofoil": 0.3,
}


def power_number(impeller: str) -> float:
    """Turbulent power number ``Np`` of an impeller type (see :data:`POWER_NUMBERS`).

    >>> power_number("rushton")
    5.0
    """
    key = impeller.strip().lower().replace("_", "-").replace(" ", "-")
    try:
        return POWER_NUMBERS[key]
    except KeyError:
        raise InputDataError(
            f"unknown impeller {impeller!r}; choose one of {sorted(POWER_NUMBERS)} or give Np"
        ) from None


def _t(*xs: Num) -> list[Tensor]:
    """Convert numbers to tensors sharing the dtype/device of the first tensor argument."""
    ref = next((x for x in xs if isinstance(x, Tensor)), None)
    if ref is not None and ref.is_floating_point():
        dtype, device = ref.dtype, ref.device
    else:
        dtype, device = DEFAULT_DTYPE, ref.device if ref is not None else torch.device("cpu")
    return [torch.as_tensor(x, dtype=dtype, device=device) for x in xs]


def _check_positive(name: str, x: Tensor, fix: str) -> None:
    bad = (x <= 0) | ~torch.isfinite(x)
    if bad.any():
        vals = x.detach()[bad].flatten()[:3].tolist()
        raise InputDataError(f"{name} must be positive and finite, got {vals}; {fix}")


class Geometry(NamedTuple):
    """Vessel dimensions in metres: tank diameter ``T``, liquid height ``H``, impeller ``D``."""

    T: Tensor
    H: Tensor
    D: Tensor


def vessel_geometry(volume_m3: Num, h_over_t: Num = 1.0, d_over_t: Num = 1.0 / 3.0) -> Geometry:
    """Tank diameter, liquid height and impeller diameter of a flat-bottomed cylinder.

    ``V = pi/4 T^2 H`` with ``H = (H/T) T``, so ``T = (4 V / (pi H/T))^(1/3)`` and ``D = (D/T) T``.
    Valid for any positive volume; typical ``H/T`` is 1 in the lab and 2-3 in production,
    ``D/T`` 1/3 for Rushton turbines and 0.4-0.5 for hydrofoils.

    Args:
        volume_m3: working volume (m3), any shape.
        h_over_t: liquid height over tank diameter (broadcasts).
        d_over_t: impeller over tank diameter (broadcasts).

    Returns:
        :class:`Geometry` of tensors of the broadcast shape.

    >>> g = vessel_geometry(0.01)
    >>> round(float(g.T), 4), round(float(g.D), 4)
    (0.2335, 0.0778)
    """
    v, ht, dt = _t(volume_m3, h_over_t, d_over_t)
    _check_positive("volume", v, "give the working volume in m3 (> 0)")
    T = (4.0 * v / (math.pi * ht)) ** (1.0 / 3.0)
    return Geometry(T=T, H=ht * T, D=dt * T)


def ungassed_power(
    N: Num,
    D: Num,
    *,
    power_number: Num = 5.0,
    density: Num = 1000.0,
    n_impellers: Num = 1,
) -> Tensor:
    """Ungassed turbulent power draw ``P0 = n Np rho N^3 D^5`` (W).

    Valid for ``Re > ~1e4`` (Np constant) and impellers spaced at least ``D`` apart.

    Args:
        N: stirrer speed (1/s).
        D: impeller diameter (m).
        power_number: Np (Rushton ~5, pitched blade ~1.7, hydrofoil ~0.3).
        density: liquid density (kg/m3).
        n_impellers: number of impellers on the shaft.

    >>> round(float(ungassed_power(500 / 60, 0.0778)), 2)
    8.25
    """
    N, D, Np, rho, n = _t(N, D, power_number, density, n_impellers)
    return n * Np * rho * N**3 * D**5


def gassed_power(P0: Num, N: Num, D: Num, Q: Num, *, c: Num = 0.706) -> Tensor:
    """Gassed power by Michel & Miller (1962), capped at the ungassed power (W).

    ``Pg = c (P0^2 N D^3 / Q^0.56)^0.45`` with P0 in W, N in 1/s, D in m, Q in m3/s. The
    correlation is not dimensionally homogeneous: ``c = 0.706`` in these units (as used by
    IndPenSim, Goldrick et al. 2015) gives ``Pg/P0`` ~ 0.4-0.6 for a Rushton turbine at 0.5-1.5
    vvm from 1 L to 100 m3, the usual range (check against your own vessel).

    Args:
        P0: ungassed power (W).
        N: stirrer speed (1/s).
        D: impeller diameter (m).
        Q: gas flow rate (m3/s, > 0).
        c: prefactor.

    >>> P0 = ungassed_power(500 / 60, 0.0778)
    >>> 0.3 < float(gassed_power(P0, 500 / 60, 0.0778, 1.667e-4) / P0) < 0.7
    True
    """
    P0, N, D, Q, c = _t(P0, N, D, Q, c)
    pg = c * (P0**2 * N * D**3 / Q**0.56) ** 0.45
    return torch.minimum(pg, P0)


def reynolds_number(N: Num, D: Num, *, density: Num = 1000.0, viscosity: Num = 1e-3) -> Tensor:
    """Impeller Reynolds number ``Re = rho N D^2 / mu`` (turbulent above ~1e4).

    Args:
        N: stirrer speed (1/s).
        D: impeller diameter (m).
        density: kg/m3.
        viscosity: dynamic viscosity (Pa s; water at 37 C ~7e-4).

    >>> round(float(reynolds_number(500 / 60, 0.0778)))
    50440
    """
    N, D, rho, mu = _t(N, D, density, viscosity)
    return rho * N * D**2 / mu


def tip_speed(N: Num, D: Num) -> Tensor:
    """Impeller tip speed ``pi N D`` (m/s); N in 1/s, D in m.

    >>> round(float(tip_speed(500 / 60, 0.0778)), 3)
    2.037
    """
    N, D = _t(N, D)
    return math.pi * N * D


def power_per_volume(P: Num, volume_m3: Num) -> Tensor:
    """Power per unit volume ``P / V`` (W/m3).

    >>> float(power_per_volume(8.0, 0.01))
    800.0
    """
    P, V = _t(P, volume_m3)
    return P / V


def gas_flow_rate(vvm: Num, volume_m3: Num) -> Tensor:
    """Volumetric gas flow ``Q = vvm V / 60`` (m3/s) from vessel volumes per minute.

    >>> round(float(gas_flow_rate(1.0, 0.01)), 7)
    0.0001667
    """
    q, V = _t(vvm, volume_m3)
    return q * V / 60.0


def superficial_gas_velocity(vvm: Num, volume_m3: Num, T: Num) -> Tensor:
    """Superficial gas velocity ``u_s = Q / (pi T^2 / 4)`` (m/s); equals ``vvm H / 60``.

    At constant vvm, ``u_s`` grows as ``V^(1/3)`` under geometric similarity.

    Args:
        vvm: gas volumes per liquid volume per minute.
        volume_m3: liquid volume (m3).
        T: tank diameter (m).

    >>> g = vessel_geometry(0.01)
    >>> round(float(superficial_gas_velocity(1.0, 0.01, g.T)), 5)
    0.00389
    """
    q, V, T = _t(vvm, volume_m3, T)
    return gas_flow_rate(q, V) / (math.pi * T**2 / 4.0)


def gas_flow_number(Q: Num, N: Num, D: Num) -> Tensor:
    """Gas flow number ``Fl_G = Q / (N D^3)``.

    >>> round(float(gas_flow_number(1e-3, 2.0, 0.5)), 3)
    0.004
    """
    Q, N, D = _t(Q, N, D)
    return Q / (N * D**3)


def flooding_flow_number(N: Num, D: Num, T: Num) -> Tensor:
    """Gas flow number at which a Rushton turbine floods: ``30 Fr (D/T)^3.5`` with
    ``Fr = N^2 D / g`` (Nienow, Wisdom & Middleton 1977). ``Fl_G`` above it means flooding.

    >>> round(float(flooding_flow_number(2.0, 0.5, 1.5)), 4)
    0.1308
    """
    N, D, T = _t(N, D, T)
    return 30.0 * (N**2 * D / GRAVITY) * (D / T) ** 3.5


def kla_van_t_riet(p_per_v: Num, u_s: Num, *, coalescing: bool = False) -> Tensor:
    """Volumetric oxygen transfer coefficient by van 't Riet (1979), in 1/s.

    Coalescing (pure water): ``0.026 (P/V)^0.4 u_s^0.5``; non-coalescing (ionic media,
    fermentation broth): ``0.002 (P/V)^0.7 u_s^0.2``. ``P/V`` is the gassed power per volume in
    W/m3 and ``u_s`` the superficial gas velocity in m/s. Valid roughly for 500 <= P/V <= 1e4
    W/m3 (non-coalescing) and vessels up to ~4 m3, +-20-40 %.

    >>> round(float(kla_van_t_riet(1000.0, 0.01, coalescing=True)), 4)
    0.0412
    """
    pv, us = _t(p_per_v, u_s)
    if coalescing:
        return 0.026 * pv**0.4 * us**0.5
    return 0.002 * pv**0.7 * us**0.2


def mixing_time_grenville(
    N: Num,
    D: Num,
    T: Num,
    *,
    power_number: Num = 5.0,
    H: Num | None = None,
    height_exponent: float = 2.5,
) -> Tensor:
    """95 % mixing time (s) by Grenville, with a correction for tall multi-impeller tanks.

    ``theta95 = 5.2 / N Np^(-1/3) (T/D)^2 (max(H/T, 1))^a``. The base correlation holds for
    turbulent flow (``Re > 1e4``) in baffled tanks with ``H = T``; the ``(H/T)^a`` factor (``a``
    ~ 2-2.5 for several impellers stacked about one ``T`` apart) is a rule of thumb.

    Args:
        N: stirrer speed (1/s).
        D: impeller diameter (m).
        T: tank diameter (m).
        power_number: Np of one impeller.
        H: liquid height (m); ``None`` means ``H = T``.
        height_exponent: ``a`` above.

    >>> round(float(mixing_time_grenville(500 / 60, 0.0778, 0.2335)), 2)
    3.29
    """
    N, D, T, Np = _t(N, D, T, power_number)
    theta = 5.2 / N * Np ** (-1.0 / 3.0) * (T / D) ** 2
    if H is not None:
        (Ht,) = _t(H)
        ratio = torch.clamp(Ht.to(theta) / T, min=1.0)
        theta = theta * ratio**height_exponent
    return theta


def kolmogorov_length(
    p_per_v: Num, *, density: Num = 1000.0, kinematic_viscosity: Num = 1e-6
) -> Tensor:
    """Kolmogorov microscale ``(nu^3 / eps)^(1/4)`` (m), with ``eps = (P/V) / rho`` (W/kg).

    About 84 um at 20 W/m3 (cell culture) and 24 um at 3 kW/m3 (microbial) in water.

    >>> round(float(kolmogorov_length(20.0)) * 1e6, 1)
    84.1
    """
    pv, rho, nu = _t(p_per_v, density, kinematic_viscosity)
    eps = pv / rho
    return (nu**3 / eps) ** 0.25


def henry_solubility_o2(temperature_C: Num) -> Tensor:
    """Henry solubility of O2 in water (mol/m3/Pa) at ``temperature_C`` (Sander 2015).

    ``kH(T) = 1.3e-3 mol/(L atm) * exp(1500 K (1/T - 1/298.15 K))``; salts lower it by 10-20 %.

    >>> round(float(henry_solubility_o2(37.0)) * 101325, 3)
    1.07
    """
    (tc,) = _t(temperature_C)
    T = tc + 273.15
    kh_298 = 1.3e-3 * 1000.0 / ATMOSPHERE_PA  # mol/(m3 Pa)
    return kh_298 * torch.exp(1500.0 * (1.0 / T - 1.0 / 298.15))


def henry_solubility_co2(temperature_C: Num) -> Tensor:
    """Henry solubility of CO2 in water (mol/m3/Pa) at ``temperature_C`` (Sander 2015).

    ``kH(T) = 0.034 mol/(L atm) * exp(2400 K (1/T - 1/298.15 K))``: about 0.025 mol/(L atm) at
    37 C.

    >>> round(float(henry_solubility_co2(37.0)) * 101325 / 1000, 4)   # mol/(L atm)
    0.0249
    """
    (tc,) = _t(temperature_C)
    T = tc + 273.15
    return 0.034 * 1000.0 / ATMOSPHERE_PA * torch.exp(2400.0 * (1.0 / T - 1.0 / 298.15))


def co2_partial_pressure(
    cer: Num,
    kla_co2: Num,
    vvm: Num,
    *,
    mean_pressure: Num = ATMOSPHERE_PA,
    temperature_C: Num = 37.0,
) -> Tensor:
    """Dissolved CO2 at steady state, as a partial pressure (Pa), from the CO2 evolution rate.

    The CO2 the culture makes leaves with the gas: the exit gas carries the mole fraction
    ``y = CER / n_gas`` (``n_gas = vvm/60 * p_atm / (R T)``, mol of gas per m3 of liquid per s),
    which the liquid sees at the mean pressure of the column, and crossing the bubble film
    needs the driving force ``CER / (kLa_CO2 kH)``:

        pCO2 = y p_mean + CER / (kLa_CO2 kH_CO2(T)).

    Low aeration (vvm) and tall tanks (p_mean) raise it; this is why pCO2 builds up in
    production cell-culture tanks (Royce & Thornhill 1991).

    Args:
        cer: CO2 evolution rate (mol/m3/s).
        kla_co2: volumetric CO2 transfer coefficient (1/s; about 0.89 kLa_O2).
        vvm: aeration (gas volumes per liquid volume per minute).
        mean_pressure: mean pressure of the liquid column (Pa).
        temperature_C: culture temperature.

    >>> p = co2_partial_pressure(5.0 / 3600, 10.0 / 3600, 0.05)   # 5 mmol/L/h, kLa 10/h
    >>> round(float(p) / 133.322, 1)                              # mmHg
    47.5
    """
    c, k, q, pm, tc = _t(cer, kla_co2, vvm, mean_pressure, temperature_C)
    n_gas = q / 60.0 * ATMOSPHERE_PA / (8.314462618 * (tc + 273.15))
    return c / n_gas * pm + c / (k * henry_solubility_co2(tc))


def log_mean_pressure(p_top: Num, p_bottom: Num) -> Tensor:
    """Log-mean pressure ``(p_bot - p_top) / ln(p_bot / p_top)`` (Pa); equals ``p_top`` when the
    two are equal.

    >>> round(float(log_mean_pressure(1e5, 2e5)))
    144270
    """
    pt, pb = _t(p_top, p_bottom)
    r = pb / pt
    close = (r - 1.0).abs() < 1e-9
    safe_r = torch.where(close, torch.full_like(r, 2.0), r)
    lm = pt * (safe_r - 1.0) / torch.log(safe_r)
    return torch.where(close, 0.5 * (pt + pb), lm)


def oxygen_saturation(
    temperature_C: Num = 37.0,
    *,
    liquid_height: Num = 0.0,
    back_pressure: Num = 0.0,
    y_o2: Num = AIR_O2_FRACTION,
    gas_holdup: Num = 0.0,
    density: Num = 1000.0,
    top_pressure: Num = ATMOSPHERE_PA,
) -> Tensor:
    """Dissolved-oxygen saturation ``C* = y_O2 p_lm kH(T)`` (mol/m3 = mM).

    ``p_lm`` is the log-mean of the head-space pressure ``p_top + back_pressure`` and the bottom
    pressure ``p_top + back_pressure + rho g H (1 - gas_holdup)``. Air at 1 atm and 37 C gives
    about 0.22 mM; a 10 m liquid column nearly doubles the bottom pressure (+~40 % in C*).

    Args:
        temperature_C: liquid temperature (deg C).
        liquid_height: liquid height H (m); 0 for no hydrostatic head.
        back_pressure: head-space gauge over-pressure (Pa).
        y_o2: O2 mole fraction of the inlet gas (0.2095 for air).
        gas_holdup: gas volume fraction of the dispersion.
        density: liquid density (kg/m3).
        top_pressure: ambient pressure (Pa).

    >>> round(float(oxygen_saturation(37.0)), 3)
    0.224
    """
    tc, h, bp, y, eg, rho, p0 = _t(
        temperature_C, liquid_height, back_pressure, y_o2, gas_holdup, density, top_pressure
    )
    pt = p0 + bp
    pb = pt + rho * GRAVITY * h * (1.0 - eg)
    return y * log_mean_pressure(pt, pb) * henry_solubility_o2(tc)


def jacket_heat_removal(
    T: Num,
    H: Num,
    *,
    U: Num = 500.0,
    delta_T: Num = 15.0,
    include_bottom: bool = True,
) -> Tensor:
    """Heat a cooling jacket can remove, ``U A dT`` (W), with ``A = pi T H (+ pi T^2 / 4)``.

    Per volume the capacity falls as ``V^(-1/3)`` (``A/V = 4/T (+ 1/H)``).

    Args:
        T: tank diameter (m).
        H: liquid height (m, wetted wall).
        U: overall heat-transfer coefficient (W/m2/K; 300-1000 for jackets).
        delta_T: culture minus coolant temperature (K).
        include_bottom: add the (flat) bottom area.

    >>> g = vessel_geometry(0.001)
    >>> round(float(jacket_heat_removal(g.T, g.H)), 1)
    346.0
    """
    T, H, U, dT = _t(T, H, U, delta_T)
    area = math.pi * T * H
    if include_bottom:
        area = area + math.pi * T**2 / 4.0
    return U * area * dT


def heat_limited_our(
    heat_removal_W: Num,
    volume_m3: Num,
    *,
    agitation_power_W: Num = 0.0,
    heat_per_mol_o2: Num = HEAT_PER_MOL_O2,
) -> Tensor:
    """Largest oxygen uptake rate the cooling allows (mol/m3/s; x3600 for mmol/L/h).

    ``OUR_max = (Q_removal - P_agitation) / (V * 460 kJ/mol)``, clamped at 0. With U = 500,
    dT = 15 and a jacket only, about 2,700 mmol/L/h at 1 L and ~125 mmol/L/h at 10 m3 (H = T).

    Args:
        heat_removal_W: cooling capacity (W).
        volume_m3: liquid volume (m3).
        agitation_power_W: power dissipated by stirring (W), which the cooling must also remove.
        heat_per_mol_o2: metabolic heat per mol O2 (J/mol).

    >>> g = vessel_geometry(10.0)
    >>> our = heat_limited_our(jacket_heat_removal(g.T, g.H), 10.0) * MOL_M3_S_TO_MMOL_L_H
    >>> 100 < float(our) < 150
    True
    """
    q, V, p, h = _t(heat_removal_W, volume_m3, agitation_power_W, heat_per_mol_o2)
    return torch.clamp((q - p) / (V * h), min=0.0)
