"""Scale-up rules: from a reference run to the operating point of a target vessel.

A reference run (volume, stirrer speed, aeration, geometry) is carried to a target volume by
holding one quantity constant: power per volume (ungassed), impeller tip speed, kLa, mixing time
or impeller Reynolds number. The result describes the target operating point (P/V, tip speed,
kLa, mixing time, ...) and flags the limits it crosses (tip speed, jacket heat removal, impeller
flooding).

Under geometric similarity (``D ~ V^(1/3)``) the rules give ``N ~ D^(-2/3)`` (P/V),
``N ~ D^(-1)`` (tip speed), ``N ~ D^(-2)`` (Re) and ``N`` constant (mixing time). Worked example
(Palomares, Lara & Ramirez, "Bioreactor scale-down", in Recombinant Gene Expression, Methods Mol.
Biol. 824, 2012): 10 L at 500 rpm to 10,000 L gives 107 rpm at constant P/V and 50 rpm at constant
tip speed. Correlations and their sources are in :mod:`mfgp.scaling.correlations`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch
from torch import Tensor

from mfgp.exceptions import InputDataError
from mfgp.scaling import correlations as corr
from mfgp.settings import DEFAULT_DTYPE

__all__ = [
    "RULES",
    "OperatingPoint",
    "Vessel",
    "default_aspect_ratio",
    "normalise_rule",
    "operating_point",
    "scale_up",
]

#: Accepted scale-up rule names (aliases are normalised by :func:`normalise_rule`).
RULES = (
    "constant-P/V",
    "constant-tip-speed",
    "constant-kLa",
    "constant-mixing-time",
    "constant-Re",
)
_ALIASES = {
    "pv": "constant-P/V",
    "p/v": "constant-P/V",
    "power": "constant-P/V",
    "tip-speed": "constant-tip-speed",
    "tipspeed": "constant-tip-speed",
    "kla": "constant-kLa",
    "mixing-time": "constant-mixing-time",
    "mixing": "constant-mixing-time",
    "re": "constant-Re",
    "reynolds": "constant-Re",
}


def normalise_rule(rule: str) -> str:
    """The canonical name of a scale-up rule (case, ``_``/space and ``constant-`` insensitive).

    >>> normalise_rule("tip speed")
    'constant-tip-speed'
    """
    key = rule.strip().lower().replace("_", "-").replace(" ", "-").removeprefix("constant-")
    for name in RULES:
        if key == name.lower().removeprefix("constant-"):
            return name
    if key in _ALIASES:
        return _ALIASES[key]
    raise InputDataError(f"unknown scale-up rule {rule!r}; choose one of: {', '.join(RULES)}")


def default_aspect_ratio(volume_L: float) -> float:
    """A typical liquid height over tank diameter for a volume: 1 up to 10 L, rising by 0.5 per
    decade of volume to 3 at 100 m3 and above (lab vessels are squat, production tanks tall).

    >>> default_aspect_ratio(10.0), default_aspect_ratio(10000.0)
    (1.0, 2.5)
    """
    if volume_L <= 0:
        raise InputDataError(f"volume must be positive, got {volume_L} L")
    return float(min(3.0, max(1.0, 1.0 + 0.5 * math.log10(volume_L / 10.0))))


@dataclass(frozen=True)
class Vessel:
    """A stirred tank: working volume and geometry.

    Attributes:
        volume_L: working volume (L).
        h_over_t: liquid height over tank diameter (``None``: :func:`default_aspect_ratio`).
        d_over_t: impeller over tank diameter (1/3 for Rushton turbines).
        n_impellers: impellers on the shaft (``None``: one per tank diameter of height).
        power_number: Np of one impeller.
        U: jacket heat-transfer coefficient (W/m2/K).
        coolant_delta_T: culture minus coolant temperature (K).
        cooling_W_per_K: the vessel's whole cooling capacity ``UA`` (W/K, jacket and coils);
            ``None``: the jacket alone, ``U`` times the wetted wall and bottom.
        back_pressure_Pa: head-space over-pressure (Pa gauge).

    >>> Vessel(10.0).n_impellers_resolved
    1
    """

    volume_L: float
    h_over_t: float | None = None
    d_over_t: float = 1.0 / 3.0
    n_impellers: int | None = None
    power_number: float = 5.0
    U: float = 500.0
    coolant_delta_T: float = 15.0
    cooling_W_per_K: float | None = None
    back_pressure_Pa: float = 0.0

    def __post_init__(self) -> None:
        if not (self.volume_L > 0 and math.isfinite(self.volume_L)):
            raise InputDataError(
                f"volume_L must be a positive number of litres, got {self.volume_L}"
            )
        if self.h_over_t is not None and self.h_over_t <= 0:
            raise InputDataError(f"h_over_t must be positive, got {self.h_over_t}")
        if not 0 < self.d_over_t < 1:
            raise InputDataError(f"d_over_t must lie in (0, 1), got {self.d_over_t}")

    @property
    def aspect(self) -> float:
        """``H/T`` actually used."""
        return default_aspect_ratio(self.volume_L) if self.h_over_t is None else self.h_over_t

    @property
    def n_impellers_resolved(self) -> int:
        """Impeller count actually used."""
        if self.n_impellers is not None:
            return int(self.n_impellers)
        return max(1, round(self.aspect))


@dataclass(frozen=True)
class OperatingPoint:
    """Engineering state of a vessel at one operating point (scalar tensors, SI unless named).

    Attributes:
        volume_L, rpm, vvm: the operating point.
        T, H, D: tank, liquid height and impeller diameter (m).
        n_impellers: impeller count.
        power_ungassed_W, power_gassed_W: shaft power (W).
        p_per_v: gassed power per volume (W/m3); ``p_per_v_ungassed`` likewise.
        tip_speed: m/s.  reynolds: impeller Re.  u_s: superficial gas velocity (m/s).
        kla_per_h: kLa (1/h).  mixing_time_s: theta95 (s).  kolmogorov_um: eta (um).
        c_star_mM: O2 saturation with hydrostatic and back pressure (mM).
        otr_max_mmol_L_h: ``kLa C*`` (mmol/L/h).
        heat_our_max_mmol_L_h: OUR the jacket can cool, net of agitation (mmol/L/h).
        flow_number, flooding_flow_number: ``Q/(N D^3)`` and its flooding limit.
        tip_speed_exceeded, heat_limited, flooded: limit flags (bool).
    """

    volume_L: Tensor
    rpm: Tensor
    vvm: Tensor
    T: Tensor
    H: Tensor
    D: Tensor
    n_impellers: int
    power_ungassed_W: Tensor
    power_gassed_W: Tensor
    p_per_v_ungassed: Tensor
    p_per_v: Tensor
    tip_speed: Tensor
    reynolds: Tensor
    u_s: Tensor
    kla_per_h: Tensor
    mixing_time_s: Tensor
    kolmogorov_um: Tensor
    c_star_mM: Tensor
    otr_max_mmol_L_h: Tensor
    heat_our_max_mmol_L_h: Tensor
    flow_number: Tensor
    flooding_flow_number: Tensor
    tip_speed_exceeded: bool
    heat_limited: bool
    flooded: bool

    def as_dict(self) -> dict[str, float | int | bool]:
        """Plain Python numbers, for tables and JSON."""
        out: dict[str, float | int | bool] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            out[f.name] = float(v) if isinstance(v, Tensor) else v
        return out


def operating_point(
    vessel: Vessel,
    rpm: float | Tensor,
    vvm: float | Tensor = 1.0,
    *,
    temperature_C: float = 37.0,
    max_tip_speed: float = 7.0,
    design_our_mmol_L_h: float = 150.0,
    coalescing: bool = False,
    viscosity: float = 1e-3,
    density: float = 1000.0,
    dtype: torch.dtype = DEFAULT_DTYPE,
) -> OperatingPoint:
    """Compute P/V, tip speed, kLa, mixing time, C* and heat limits of ``vessel`` at ``rpm``.

    Args:
        vessel: the tank.
        rpm: stirrer speed (rev/min).
        vvm: aeration (gas volumes per liquid volume per minute).
        temperature_C: culture temperature.
        max_tip_speed: tip speed above which ``tip_speed_exceeded`` is set (m/s).
        design_our_mmol_L_h: oxygen uptake rate the process needs; ``heat_limited`` is set when
            the jacket cannot cool it.
        coalescing: van 't Riet coalescing (water) or non-coalescing (broth, default).
        viscosity, density: broth properties (Pa s, kg/m3).
        dtype: float dtype of the returned tensors.

    Returns:
        An :class:`OperatingPoint`.

    >>> op = operating_point(Vessel(10.0), 500.0)
    >>> round(float(op.tip_speed), 2)
    2.04
    """
    rpm_t = torch.as_tensor(rpm, dtype=dtype)
    vvm_t = torch.as_tensor(vvm, dtype=dtype)
    if (rpm_t <= 0).any():
        raise InputDataError(f"rpm must be positive, got {rpm_t.tolist()}")
    if (vvm_t <= 0).any():
        raise InputDataError(f"vvm must be positive, got {vvm_t.tolist()}; use e.g. 1.0")
    V = torch.as_tensor(vessel.volume_L / 1000.0, dtype=dtype)
    g = corr.vessel_geometry(V, vessel.aspect, vessel.d_over_t)
    n_imp = vessel.n_impellers_resolved
    N = rpm_t / 60.0
    P0 = corr.ungassed_power(
        N, g.D, power_number=vessel.power_number, density=density, n_impellers=n_imp
    )
    Q = corr.gas_flow_rate(vvm_t, V)
    Pg = corr.gassed_power(P0, N, g.D, Q)
    pv = Pg / V
    us = corr.superficial_gas_velocity(vvm_t, V, g.T)
    kla = corr.kla_van_t_riet(pv, us, coalescing=coalescing) * 3600.0
    theta = corr.mixing_time_grenville(N, g.D, g.T, power_number=vessel.power_number, H=g.H)
    cstar = corr.oxygen_saturation(
        temperature_C, liquid_height=g.H, back_pressure=vessel.back_pressure_Pa, density=density
    ).to(dtype)
    if vessel.cooling_W_per_K is None:
        qheat = corr.jacket_heat_removal(g.T, g.H, U=vessel.U, delta_T=vessel.coolant_delta_T)
    else:
        qheat = torch.as_tensor(vessel.cooling_W_per_K * vessel.coolant_delta_T, dtype=dtype)
    our_heat = corr.heat_limited_our(qheat, V, agitation_power_W=Pg) * corr.MOL_M3_S_TO_MMOL_L_H
    fl = corr.gas_flow_number(Q, N, g.D)
    fl_f = corr.flooding_flow_number(N, g.D, g.T)
    tip = corr.tip_speed(N, g.D)
    return OperatingPoint(
        volume_L=V * 1000.0,
        rpm=rpm_t,
        vvm=vvm_t,
        T=g.T,
        H=g.H,
        D=g.D,
        n_impellers=n_imp,
        power_ungassed_W=P0,
        power_gassed_W=Pg,
        p_per_v_ungassed=P0 / V,
        p_per_v=pv,
        tip_speed=tip,
        reynolds=corr.reynolds_number(N, g.D, density=density, viscosity=viscosity),
        u_s=us,
        kla_per_h=kla,
        mixing_time_s=theta,
        kolmogorov_um=corr.kolmogorov_length(pv, density=density) * 1e6,
        c_star_mM=cstar,
        otr_max_mmol_L_h=kla * cstar,
        heat_our_max_mmol_L_h=our_heat,
        flow_number=fl,
        flooding_flow_number=fl_f,
        tip_speed_exceeded=bool((tip > max_tip_speed).any()),
        heat_limited=bool((our_heat < design_our_mmol_L_h).any()),
        flooded=bool((fl > fl_f).any()),
    )


def scale_up(
    reference: Vessel,
    reference_rpm: float,
    target: Vessel | float,
    rule: str = "constant-P/V",
    *,
    vvm: float = 1.0,
    aeration: str = "constant-vvm",
    **options: float | bool,
) -> OperatingPoint:
    """Operating point of ``target`` that keeps one quantity of the reference run constant.

    Args:
        reference: the reference vessel (e.g. ``Vessel(10.0, h_over_t=1.0)``).
        reference_rpm: stirrer speed of the reference run (rpm).
        target: the target vessel, or its volume in litres (then with the reference's ``H/T``,
            ``D/T``, impeller type and count: geometric similarity).
        rule: one of :data:`RULES` (``"constant-P/V"`` uses ungassed power).
        vvm: aeration of the reference run.
        aeration: ``"constant-vvm"`` or ``"constant-us"`` (constant superficial gas velocity).
        **options: passed to :func:`operating_point` (``max_tip_speed``,
            ``design_our_mmol_L_h``, ``temperature_C``, ``coalescing``...).

    Returns:
        The target :class:`OperatingPoint` (with flags).

    Raises:
        InputDataError: unknown rule or aeration strategy, or non-positive numbers.

    >>> op = scale_up(Vessel(10.0, h_over_t=1.0), 500.0, 10000.0, "constant-P/V")
    >>> round(float(op.rpm), 1)
    107.7
    """
    rule = normalise_rule(rule)
    if aeration not in ("constant-vvm", "constant-us"):
        raise InputDataError(
            f"unknown aeration strategy {aeration!r}; use 'constant-vvm' or 'constant-us'"
        )
    if not reference_rpm > 0:
        raise InputDataError(f"reference_rpm must be positive, got {reference_rpm}")
    if not isinstance(target, Vessel):
        target = Vessel(
            float(target),
            h_over_t=reference.aspect,
            d_over_t=reference.d_over_t,
            n_impellers=reference.n_impellers_resolved,
            power_number=reference.power_number,
            U=reference.U,
            coolant_delta_T=reference.coolant_delta_T,
            back_pressure_Pa=reference.back_pressure_Pa,
        )
    ref = operating_point(reference, reference_rpm, vvm, **options)  # type: ignore[arg-type]
    Vt = target.volume_L / 1000.0
    gt = corr.vessel_geometry(
        torch.as_tensor(Vt, dtype=DEFAULT_DTYPE), target.aspect, target.d_over_t
    )
    if aeration == "constant-vvm":
        vvm_t = torch.as_tensor(vvm, dtype=DEFAULT_DTYPE)
    else:  # u_s = vvm H / 60 held constant
        vvm_t = ref.u_s * 60.0 / gt.H
    n_imp, Np = target.n_impellers_resolved, target.power_number
    if rule == "constant-P/V":
        N = (ref.p_per_v_ungassed * Vt / (n_imp * Np * 1000.0 * gt.D**5)) ** (1.0 / 3.0)
    elif rule == "constant-tip-speed":
        N = ref.tip_speed / (math.pi * gt.D)
    elif rule == "constant-Re":
        mu = float(options.get("viscosity", 1e-3))
        rho = float(options.get("density", 1000.0))
        N = ref.reynolds * mu / (rho * gt.D**2)
    elif rule == "constant-mixing-time":
        unit = corr.mixing_time_grenville(1.0, gt.D, gt.T, power_number=Np, H=gt.H)
        N = unit / ref.mixing_time_s
    else:  # constant-kLa: kLa increases monotonically with N; bisect in log N
        lo, hi = math.log(1e-3), math.log(1e3)
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            op = operating_point(target, math.exp(mid) * 60.0, vvm_t, **options)  # type: ignore[arg-type]
            lo, hi = (mid, hi) if float(op.kla_per_h) < float(ref.kla_per_h) else (lo, mid)
        N = torch.as_tensor(math.exp(0.5 * (lo + hi)), dtype=DEFAULT_DTYPE)
    return operating_point(target, N * 60.0, vvm_t, **options)  # type: ignore[arg-type]
