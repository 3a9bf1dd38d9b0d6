"""The demand side of the physics level: a compact kinetic model limited by the vessel.

The culture, unlimited, grows logistically (Verhulst; the closed form of Monod growth on a
limiting resource that is used up) towards an amplitude ``A(z) = exp(a + b.z)`` set by the
operating variables ``z`` other than stirrer speed and aeration (those act through the
physics):

    x(t) = 1 / (1 + (1/x0 - 1) exp(-mu t))            (biomass, as a fraction of A)
    p(t) = (1 - w) (x(t) - x0) + w  int_0^t x ds / t_end   (Luedeking-Piret product:
           growth-associated share 1 - w, non-growth-associated share w)

so that ``y(t) = A f x(t)`` for a biomass target and ``A f p(t)`` for a product; on end-point
data (no time column) ``y = A f``. The vessel enters through the limitation ``f`` in (0, 1]
(:func:`limitation`), a product of three classic factors (Sweere, Luyben & Kossen 1987,
Enzyme Microb. Technol. 9:386, regime analysis of scale-down):

- **oxygen and heat**: the culture asks for ``OUR_d`` (mmol/L/h, at full culture); the vessel
  can supply ``C = min(OTR_max, OUR_heat)`` (:mod:`mfgp.physics.capacity`); the fraction
  served is the smooth minimum ``f_O = (1 + (OUR_d / C)^4)^(-1/4)``;
- **dissolved CO2**: the CO2 made (respiratory quotient 1) accumulates to
  ``pCO2 = (pCO2 per OUR) f_O OUR_d``; ``f_CO2 = 1 / (1 + (pCO2 / K_CO2)^3)`` (the Hill form
  used for CHO cultures, where productivity falls above about 150 mmHg; Zhu et al. 2005,
  Biotechnol. Prog. 21:1183);
- **mixing**: gradients cost in proportion to the mixing time over the culture's tolerance,
  ``f_M = 1 / (1 + theta95 / t_M)``.

The three physics parameters cannot be seen in runs where nothing limits; they carry
documented priors (:data:`PHYSICS_PRIORS`), and the calibration (:mod:`mfgp.physics.level`)
propagates what stays uncertain into the level's variance at scale. Written by hand: the
closed forms are textbook, and no library pairs them with vessel capacities.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

import torch
from torch import Tensor

__all__ = [
    "PHYSICS_PARAMETERS",
    "PHYSICS_PRIORS",
    "growth_shape",
    "limitation",
    "target_kind",
]

#: the parameters of the limitation, on the log scale.
PHYSICS_PARAMETERS = ("log_our_demand", "log_k_co2", "log_t_mix")
#: prior (median, sd of the log) of each physics parameter: the oxygen demand of the full
#: culture 20 mmol/L/h (cell culture 2-10, microbial 50-300; the wide sd spans both), the CO2
#: tolerance 150 mmHg (Zhu et al. 2005), the mixing tolerance 1000 s (a mixing time of 100 s
#: costs about 10 %; glucose-gradient losses of this size at 10-30 m3 are reported by Enfors
#: et al. 2001, J. Biotechnol. 85:175).
PHYSICS_PRIORS: dict[str, tuple[float, float]] = {
    "log_our_demand": (math.log(20.0), 1.5),
    "log_k_co2": (math.log(150.0), 0.4),
    "log_t_mix": (math.log(1000.0), 1.0),
}
_BIOMASS = re.compile(r"(biomass|cell|dcw|vcd|od600|^x$|^c$|^x_|^od$)", re.IGNORECASE)


def target_kind(name: str | None) -> str:
    """``"biomass"`` when the target's name says it is cells, else ``"product"``.

    >>> target_kind("biomass_gL"), target_kind("C"), target_kind("titer_gL")
    ('biomass', 'biomass', 'product')
    """
    return "biomass" if name and _BIOMASS.search(str(name)) else "product"


def limitation(
    groups: Mapping[str, Tensor], theta: Tensor, *, parts: bool = False
) -> Tensor | dict[str, Tensor]:
    """The limitation ``f = f_O f_CO2 f_M`` of every row (see the module docstring).

    Args:
        groups: capacity groups of the rows (``otr_max``, ``heat_our_max``,
            ``mixing_time_s``, ``pco2_per_our``; :func:`mfgp.physics.capacity_groups`).
        theta: ``... x 3`` physics parameters (:data:`PHYSICS_PARAMETERS`); a leading batch
            of parameter draws broadcasts against the rows.
        parts: return every factor and the supply and demand too.

    Returns:
        ``... x n`` values in (0, 1], or a dict of them.

    >>> g = {"otr_max": torch.tensor([100.0, 10.0]), "heat_our_max": torch.tensor([1e3, 1e3]),
    ...      "mixing_time_s": torch.tensor([0.0, 0.0]), "pco2_per_our": torch.tensor([0.0, 0.0])}
    >>> f = limitation(g, torch.tensor([math.log(20.0), 5.0, 7.0]))
    >>> [round(v, 3) for v in f.tolist()]          # ample supply; half the demand served
    [1.0, 0.492]
    """
    th = theta.unsqueeze(-2)  # ... x 1 x 3: rows broadcast
    demand = th[..., 0].exp()
    supply = torch.minimum(groups["otr_max"], groups["heat_our_max"]).clamp_min(1e-9)
    f_o = (1.0 + (demand / supply) ** 4).pow(-0.25)
    pco2 = groups["pco2_per_our"] * f_o * demand
    f_c = 1.0 / (1.0 + (pco2 / th[..., 1].exp()) ** 3)
    f_m = 1.0 / (1.0 + groups["mixing_time_s"] / th[..., 2].exp())
    f = f_o * f_c * f_m
    if parts:
        return {
            "f": f,
            "f_oxygen_heat": f_o,
            "f_co2": f_c,
            "f_mixing": f_m,
            "supply_our": supply.expand_as(f),
            "demand_our": demand.expand_as(f),
            "pco2_mmHg": pco2,
        }
    return f


def growth_shape(t: Tensor, theta: Tensor, kind: str, t_end: float) -> Tensor:
    """The unlimited time course as a fraction of the amplitude (see the module docstring).

    Args:
        t: ``n`` times (h).
        theta: ``... x 3``: ``log mu`` (1/h), ``logit x0``, ``logit w`` (product only).
        kind: ``"biomass"`` or ``"product"``.
        t_end: the time that scales the non-growth-associated term (the longest run).

    >>> th = torch.tensor([math.log(0.3), math.log(0.01 / 0.99), 0.0])
    >>> round(float(growth_shape(torch.tensor([100.0]), th, "biomass", 36.0)), 4)
    1.0
    """
    th = theta.unsqueeze(-2)
    mu = th[..., 0].exp()
    x0 = torch.sigmoid(th[..., 1])
    c = 1.0 / x0 - 1.0
    x = 1.0 / (1.0 + c * torch.exp(-mu * t))
    if kind == "biomass":
        return x
    w = torch.sigmoid(th[..., 2])
    # int_0^t x ds = (1/mu) ln((e^{mu t} + c) / (1 + c)), written stably
    integral = t + (torch.log1p(c * torch.exp(-mu * t)) - torch.log1p(c)) / mu
    return (1.0 - w) * (x - x0) + w * integral / t_end
