"""The scaling-law layer: engineering correlations, scale-up rules, growth curves and the
scaling-law surrogate (a cheap low-fidelity level that can be evaluated at any volume).

Submodules:
    correlations: geometry, power, kLa, mixing time, C*, heat removal (pure torch, SI units).
    criteria: scale-up rules (constant P/V, tip speed, kLa, mixing time, Re) with limit flags.
    growth: Baranyi-Roberts, logistic and Gompertz growth curves as torch modules.
    bases: scaling bases in log volume and :class:`ScalingLawSurrogate`.
    endpoint_law: :class:`EndPointScalingLaw`, the scaling law of end-point data (no time).
"""

from __future__ import annotations

from mfgp.scaling.bases import (
    LogLaw,
    PiecewiseLogLinear,
    PowerLaw,
    ScalingBasis,
    ScalingLaw,
    ScalingLawMean,
    ScalingLawSurrogate,
    append_surrogate_feature,
    dimensionless_features,
    make_basis,
)
from mfgp.scaling.criteria import RULES, OperatingPoint, Vessel, operating_point, scale_up
from mfgp.scaling.endpoint_law import EndPointScalingLaw, build_surrogate
from mfgp.scaling.growth import (
    BaranyiGrowth,
    GompertzGrowth,
    GrowthModel,
    LogisticGrowth,
    get_growth_model,
)

__all__ = [
    "RULES",
    "BaranyiGrowth",
    "EndPointScalingLaw",
    "GompertzGrowth",
    "GrowthModel",
    "LogLaw",
    "LogisticGrowth",
    "OperatingPoint",
    "PiecewiseLogLinear",
    "PowerLaw",
    "ScalingBasis",
    "ScalingLaw",
    "ScalingLawMean",
    "ScalingLawSurrogate",
    "Vessel",
    "append_surrogate_feature",
    "build_surrogate",
    "dimensionless_features",
    "get_growth_model",
    "make_basis",
    "operating_point",
    "scale_up",
]
