"""The physics of scale, calibrated on the engineer's own runs.

- :mod:`mfgp.physics.capacity`: what each vessel can supply (P/V, tip speed, kLa, OTR_max,
  heat-limited OUR, mixing time, dissolved CO2 per OUR), from the correlations of
  :mod:`mfgp.scaling` and a vessel per volume (config or geometric-similarity defaults);
- :mod:`mfgp.physics.kinetics`: what the culture asks for (logistic growth, Luedeking-Piret
  product) and the limitation when the vessel falls short;
- :mod:`mfgp.physics.level`: the two calibrated together on the measured runs, with their
  uncertainty, as a known level 0 of the hybrid model.
"""

from mfgp.physics.capacity import (
    CAPACITY_GROUPS,
    DEFAULT_P_PER_V,
    DEFAULT_VVM,
    VesselSet,
    capacity_groups,
    constant_pv_rpm,
)
from mfgp.physics.kinetics import PHYSICS_PARAMETERS, PHYSICS_PRIORS, limitation, target_kind
from mfgp.physics.level import PhysicsLevel

__all__ = [
    "CAPACITY_GROUPS",
    "DEFAULT_P_PER_V",
    "DEFAULT_VVM",
    "PHYSICS_PARAMETERS",
    "PHYSICS_PRIORS",
    "PhysicsLevel",
    "VesselSet",
    "capacity_groups",
    "constant_pv_rpm",
    "limitation",
    "target_kind",
]
