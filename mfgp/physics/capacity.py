"""The capacity side of the physics level: what each vessel can supply at its operating point.

For every row (a run at a volume, a stirrer speed and an aeration rate) the correlations of
:mod:`mfgp.scaling` give the groups that change with scale (:func:`capacity_groups`):

- gassed power per volume ``P/V`` (W/m3) and tip speed (m/s);
- ``kLa`` (1/h, van 't Riet) and the oxygen transfer capacity ``OTR_max = kLa C*`` (mmol/L/h),
  with ``C*`` at the log-mean hydrostatic pressure of the liquid column;
- the heat-limited oxygen uptake ``OUR_heat`` (mmol/L/h): the cooling capacity (jacket, or the
  vessel's whole ``cooling_W_per_K``) net of the stirring power, over 460 kJ per mol O2;
- the mixing time ``theta95`` (s, Grenville with the tall-tank correction);
- ``pCO2 per OUR`` (mmHg per mmol/L/h): the dissolved CO2 that a CO2 evolution rate equal to
  the OUR would hold at steady state (exit-gas term at the mean pressure plus the film term,
  ``kLa_CO2 = 0.89 kLa_O2``; Royce & Thornhill 1991).

Vessels: the geometry of a volume comes from :class:`VesselSet` (a ``[vessels."VOLUME"]``
config table per volume, :func:`mfgp.scaling.vessels.vessel_from_config`); any other volume
gets the :class:`~mfgp.scaling.criteria.Vessel` defaults (geometric similarity: ``H/T`` from
1 in the lab to 3 in production, ``D/T = 1/3``, one Rushton turbine (``Np = 5``) per tank
diameter of liquid height, a jacket with ``U = 500 W/m2/K`` and 15 K to the coolant).
Without a stirrer-speed column the speed is the one that gives :data:`DEFAULT_P_PER_V`
(constant ungassed P/V, the most common rule); without an aeration column,
:data:`DEFAULT_VVM`. Written by hand: no library computes bioreactor capacities.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from mfgp.exceptions import InputDataError
from mfgp.scaling import correlations as corr
from mfgp.scaling.criteria import Vessel, operating_point
from mfgp.scaling.vessels import (
    GEOMETRY_KEYS,
    parse_vessel_name,
    vessel_from_config,
    vessel_label,
    vessel_of,
)

__all__ = [
    "CAPACITY_GROUPS",
    "DEFAULT_P_PER_V",
    "DEFAULT_VVM",
    "VesselSet",
    "capacity_groups",
    "constant_pv_rpm",
]

#: ungassed power per volume (W/m3) of the default stirrer speed, when the data have no
#: stirrer-speed column: a typical microbial / cell-culture compromise (cell culture 20-100,
#: microbial 1,000-5,000 W/m3).
DEFAULT_P_PER_V = 1000.0
#: aeration (vvm) when the data have no aeration column.
DEFAULT_VVM = 1.0
#: the groups :func:`capacity_groups` returns, in this order.
CAPACITY_GROUPS = (
    "p_per_v",
    "tip_speed",
    "kla_per_h",
    "otr_max",
    "heat_our_max",
    "mixing_time_s",
    "pco2_per_our",
)
_MMHG = 133.322


@dataclass
class VesselSet:
    """The vessels of a process: explicit geometry for some volumes, defaults for the rest.

    Args:
        vessels: ``{volume_L: Vessel}``.
        temperature_C: culture temperature.
        o2_fraction: O2 mole fraction of the sparge gas (air 0.2095; cell cultures are often
            sparged with O2-enriched air or pure O2, up to 1), which scales ``OTR_max``.
        sources: ``{vessel label: "config" | "defaults"}`` of every volume asked for (filled as
            volumes are looked up; shown in reports).

    >>> vs = VesselSet.from_config({"10 m3": {"diameter_m": 2.0, "cooling_W_per_K": 2.0e4}})
    >>> round(vs.vessel(10000.0).aspect, 3), vs.vessel(2.0).aspect
    (1.592, 1.0)
    """

    vessels: dict[float, Vessel] = field(default_factory=dict)
    temperature_C: float = 37.0
    o2_fraction: float = corr.AIR_O2_FRACTION
    sources: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_config(
        cls,
        table: Mapping[str, Mapping[str, Any]] | None,
        *,
        temperature_C: float = 37.0,
        o2_fraction: float = corr.AIR_O2_FRACTION,
    ) -> VesselSet:
        """From a ``{"VOLUME": {geometry key: value}}`` table (the ``[vessels]`` section of a
        config; keys :data:`mfgp.scaling.vessels.GEOMETRY_KEYS`, any other key refused)."""
        if table is not None and not isinstance(table, Mapping):
            raise InputDataError(
                'vessels must be a table of vessels by volume, e.g. {"200 L" = {h_over_t = 2.0}}'
            )
        out: dict[float, Vessel] = {}
        for name, spec in dict(table or {}).items():
            if not isinstance(spec, Mapping):
                raise InputDataError(f"vessel {name!r} must be a table of geometry keys")
            unknown = sorted(set(spec) - set(GEOMETRY_KEYS))
            if unknown:
                raise InputDataError(
                    f"vessel {name!r} has unknown key {unknown[0]!r}; the geometry keys are "
                    f"{list(GEOMETRY_KEYS)}"
                )
            volume = parse_vessel_name(name)
            if volume is None:
                raise InputDataError(
                    f"vessels: {name!r} is not a volume; name each vessel by its working "
                    'volume, e.g. [vessels."200 L"] or [vessels."10 m3"]'
                )
            out[volume] = vessel_from_config(volume, spec)
        if not 0 < o2_fraction <= 1:
            raise InputDataError(f"o2_fraction must lie in (0, 1], got {o2_fraction}")
        return cls(out, temperature_C=temperature_C, o2_fraction=float(o2_fraction))

    def vessel(self, volume_L: float) -> Vessel:
        """The vessel of ``volume_L`` (recording whether it came from the config)."""
        known = any(abs(math.log10(v / volume_L)) < 1e-9 for v in self.vessels)
        self.sources[vessel_label(volume_L)] = "config" if known else "defaults"
        return vessel_of(volume_L, self.vessels)


def constant_pv_rpm(vessel: Vessel, p_per_v: float = DEFAULT_P_PER_V) -> float:
    """The stirrer speed (rpm) at which ``vessel`` draws ``p_per_v`` (W/m3, ungassed):
    ``N = (P/V V / (n Np rho D^5))^(1/3)``.

    >>> round(constant_pv_rpm(Vessel(10.0), 1000.0))
    533
    """
    V = vessel.volume_L / 1000.0
    g = corr.vessel_geometry(V, vessel.aspect, vessel.d_over_t)
    n_np = vessel.n_impellers_resolved * vessel.power_number
    return 60.0 * float((p_per_v * V / (n_np * 1000.0 * g.D**5)) ** (1.0 / 3.0))


def capacity_groups(
    volume_L: Tensor,
    rpm: Tensor | None,
    vvm: Tensor | None,
    vessels: VesselSet | None = None,
) -> dict[str, Tensor]:
    """The capacity groups (:data:`CAPACITY_GROUPS`) of every row.

    Args:
        volume_L: ``n`` working volumes (L).
        rpm: ``n`` stirrer speeds, or None (constant P/V at :data:`DEFAULT_P_PER_V`).
        vvm: ``n`` aeration rates, or None (:data:`DEFAULT_VVM`).
        vessels: the process's vessels (default: every vessel from the defaults).

    Returns:
        ``{group: n values}`` in the dtype and on the device of ``volume_L``.

    >>> g = capacity_groups(torch.tensor([2.0, 50000.0], dtype=torch.float64), None, None)
    >>> bool(g["heat_our_max"][1] < g["heat_our_max"][0])    # cooling per volume falls
    True
    """
    vessels = vessels or VesselSet()
    out = {k: torch.empty_like(volume_L) for k in CAPACITY_GROUPS}
    flat = volume_L.detach().cpu().double()
    for v in torch.unique(flat).tolist():
        rows = (flat - v).abs() <= 1e-9 * v
        vessel = vessels.vessel(float(v))
        n = int(rows.sum())
        speed = (
            torch.full((n,), constant_pv_rpm(vessel), dtype=torch.float64)
            if rpm is None
            else rpm.detach().cpu().double()[rows]
        )
        air = (
            torch.full((n,), DEFAULT_VVM, dtype=torch.float64)
            if vvm is None
            else vvm.detach().cpu().double()[rows]
        )
        op = operating_point(vessel, speed, air, temperature_C=vessels.temperature_C)
        p_top = corr.ATMOSPHERE_PA + vessel.back_pressure_Pa
        p_mean = corr.log_mean_pressure(p_top, p_top + 1000.0 * corr.GRAVITY * op.H)
        unit_cer = 1.0 / corr.MOL_M3_S_TO_MMOL_L_H  # 1 mmol/L/h in mol/m3/s
        pco2 = corr.co2_partial_pressure(
            unit_cer,
            0.89 * op.kla_per_h / 3600.0,
            air,
            mean_pressure=p_mean,
            temperature_C=vessels.temperature_C,
        )
        values = {
            "p_per_v": op.p_per_v,
            "tip_speed": op.tip_speed,
            "kla_per_h": op.kla_per_h,
            "otr_max": op.otr_max_mmol_L_h * (vessels.o2_fraction / corr.AIR_O2_FRACTION),
            "heat_our_max": op.heat_our_max_mmol_L_h,
            "mixing_time_s": op.mixing_time_s,
            "pco2_per_our": pco2 / _MMHG,
        }
        idx = rows.nonzero().squeeze(-1).to(volume_L.device)
        for key, val in values.items():
            out[key][idx] = val.to(volume_L).expand(n)
    return out
