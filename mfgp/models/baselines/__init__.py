"""Baselines as torch modules: regularised linear models, scaling law only, discrepancy GP.

Every baseline here follows :class:`~mfgp.models.base.ScaleUpModel` (``fit``, ``posterior``,
``predict``, save/load, CPU or CUDA, float32 or float64) and is selectable by name:

- ``ridge``, ``lasso`` (:mod:`~mfgp.models.baselines.linear`): regularised linear models on
  scaling bases of ``log10_volume_L`` and polynomial bases of the other features, the penalty
  chosen by grouped (leave-one-scale-out) cross-validation, Bayesian-ridge style variance;
- ``scaling_law`` (:mod:`~mfgp.models.baselines.scaling_law`): the scaling-law surrogate
  fitted on the top-fidelity training rows, used as the prediction, with the
  leave-one-scale-out residual variance;
- ``discrepancy`` (:mod:`~mfgp.models.baselines.discrepancy`): the scaling-law surrogate as the
  mean plus a BoTorch :class:`~botorch.models.SingleTaskGP` on the residuals (the
  Kennedy-O'Hagan AR1 model with ``rho`` fixed to 1).

The surrogate of ``scaling_law`` and ``discrepancy`` is a growth-curve
:class:`~mfgp.scaling.bases.ScalingLawSurrogate` on time courses and an
:class:`~mfgp.scaling.endpoint_law.EndPointScalingLaw` on end-point data (one row per run, no
time column). :mod:`~mfgp.models.baselines.common` holds the shared helpers
(:class:`TopLevelBaseline`, :func:`num_threads`, :func:`scale_groups`,
:func:`top_fidelity_rows`, ...).

Rows used: every baseline uses the **top-fidelity rows only** (``multi_fidelity = False``;
lower levels are ignored: keep it simple and comparable). At prediction time the fidelity column
of ``X`` is ignored: every baseline predicts the top level. Known noise variances (``Yvar``) are
passed to the GP of ``discrepancy`` and ignored by the others.

References:
    Hoerl & Kennard (1970), Technometrics 12:55 (ridge). Tibshirani (1996), JRSS B 58:267
    (lasso). Beck & Teboulle (2009), SIAM J. Imaging Sci. 2:183 (FISTA). Bishop (2006), Pattern
    Recognition and Machine Learning, sec. 3.3 (Bayesian linear regression predictive variance).
    Kennedy & O'Hagan (2000), Biometrika 87:1 (discrepancy/AR1 model).
"""

from __future__ import annotations

from mfgp.models.baselines.common import (
    END_POINT_REASON,
    DataLayout,
    TopLevelBaseline,
    data_layout,
    feature_index,
    has_time_column,
    num_threads,
    scale_groups,
    top_fidelity_rows,
    variance_floor,
)
from mfgp.models.baselines.discrepancy import DiscrepancyGP
from mfgp.models.baselines.linear import LassoBaseline, RidgeBaseline, fista_lasso
from mfgp.models.baselines.scaling_law import (
    ScalingLawOnly,
    fit_surrogate,
    make_surrogate,
    surrogate_reason,
)

__all__ = [
    "END_POINT_REASON",
    "DataLayout",
    "DiscrepancyGP",
    "LassoBaseline",
    "RidgeBaseline",
    "ScalingLawOnly",
    "TopLevelBaseline",
    "data_layout",
    "feature_index",
    "fista_lasso",
    "fit_surrogate",
    "has_time_column",
    "make_surrogate",
    "num_threads",
    "scale_groups",
    "surrogate_reason",
    "top_fidelity_rows",
    "variance_floor",
]
