"""Accuracy and calibration metrics, overall and per volume.

All functions take 1-D tensors or arrays of equal length (observations ``y``, predictive
``mean``, ``variance`` or 95 % bounds) and return Python floats.

- RMSE, MAE, R^2 (coefficient of determination against the mean of ``y``);
- NRMSE: RMSE divided by the standard deviation of ``y`` (the convention of the multi-fidelity
  literature; 1.0 is no better than predicting the mean of the test values);
- NLPD: mean negative log predictive density of ``y``;
- CRPS: mean continuous ranked probability score (Gneiting & Raftery 2007);
- coverage: fraction of ``y`` inside the 95 % interval ``[lower, upper]``.

NLPD and CRPS of a :class:`~mfgp.prediction.Prediction` (:func:`evaluate`, :func:`per_volume`,
``nlpd(y, prediction)``, ``crps(y, prediction)``) are computed under its own distribution
(Normal, LogNormal or a mixture, :mod:`mfgp.distributions`), falling back to the Gaussian of its
mean and variance when it carries none; ``nlpd(y, mean, variance)`` and
:func:`crps_gaussian` are the Gaussian scores of given moments. Scores are computed in float64
on the prediction's device.

>>> import torch
>>> y = torch.tensor([1.0, 2.0, 3.0])
>>> rmse(y, y + 1)
1.0
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import torch

from mfgp import distributions as D
from mfgp.exceptions import InputDataError
from mfgp.prediction import Prediction

__all__ = [
    "METRIC_NAMES",
    "coverage",
    "crps",
    "crps_gaussian",
    "evaluate",
    "interval_width",
    "mae",
    "nlpd",
    "nrmse",
    "per_volume",
    "r2",
    "rmse",
]

#: the metrics reported by :func:`evaluate`, in table order.
METRIC_NAMES = ("rmse", "mae", "nrmse", "r2", "nlpd", "crps", "coverage95", "width95")


def _arr(x: Any, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    a = np.asarray(x, dtype=np.float64).reshape(-1)
    if not np.isfinite(a).all():
        raise InputDataError(f"{name} has NaN or infinite values")
    return a


def _pair(y: Any, other: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    a, b = _arr(y, "y"), _arr(other, name)
    if a.shape != b.shape:
        raise InputDataError(f"y has {a.size} values but {name} has {b.size}")
    if a.size == 0:
        raise InputDataError("metrics need at least one observation")
    return a, b


def rmse(y: Any, mean: Any) -> float:
    """Root mean squared error."""
    a, m = _pair(y, mean, "mean")
    return float(np.sqrt(np.mean((a - m) ** 2)))


def mae(y: Any, mean: Any) -> float:
    """Mean absolute error."""
    a, m = _pair(y, mean, "mean")
    return float(np.mean(np.abs(a - m)))


def r2(y: Any, mean: Any) -> float:
    """Coefficient of determination; NaN when ``y`` is constant."""
    a, m = _pair(y, mean, "mean")
    ss_tot = float(np.sum((a - a.mean()) ** 2))
    return float("nan") if ss_tot == 0 else 1.0 - float(np.sum((a - m) ** 2)) / ss_tot


def nrmse(y: Any, mean: Any) -> float:
    """RMSE over the standard deviation of ``y``; NaN when ``y`` is constant."""
    a, _ = _pair(y, mean, "mean")
    sd = float(a.std())
    return float("nan") if sd == 0 else rmse(y, mean) / sd


def _as_prediction(prediction: Any) -> Prediction:
    """``prediction`` as a float64 :class:`Prediction` (any object with ``mean``, ``variance``,
    ``lower`` and ``upper``, and optionally ``distribution``), its moments checked finite."""
    if not isinstance(prediction, Prediction):
        fields = ("mean", "variance", "lower", "upper")
        if not all(hasattr(prediction, k) for k in fields):
            raise InputDataError(
                f"expected a Prediction (or mean and variance), got {type(prediction).__name__}"
            )
        tensors = {k: torch.as_tensor(_arr(getattr(prediction, k), k)) for k in fields}
        prediction = Prediction(**tensors, distribution=getattr(prediction, "distribution", None))
    for k in ("mean", "variance"):
        _arr(getattr(prediction, k), k)
    return prediction.to(dtype=torch.float64)


def _observed(y: Any, prediction: Prediction) -> torch.Tensor:
    a, _ = _pair(y, prediction.mean, "mean")
    return torch.as_tensor(a, device=prediction.mean.device).reshape(prediction.mean.shape)


def nlpd(y: Any, mean: Any, variance: Any = None) -> float:
    """Mean negative log predictive density: of ``y`` under ``N(mean, variance)``, or, called
    as ``nlpd(y, prediction)``, under the prediction's distribution (``inf`` where it has no
    density, e.g. a log-normal at ``y <= 0``).

    >>> round(nlpd([0.0], [0.0], [1.0]), 6)
    0.918939
    """
    if variance is None:
        pred = _as_prediction(mean)
        return float(-D.log_prob(pred.predictive, _observed(y, pred)).mean())
    a, m = _pair(y, mean, "mean")
    _, v = _pair(y, variance, "variance")
    v = np.maximum(v, 1e-300)
    return float(np.mean(0.5 * np.log(2 * math.pi * v) + 0.5 * (a - m) ** 2 / v))


def crps_gaussian(y: Any, mean: Any, variance: Any) -> float:
    """Mean CRPS of Gaussian predictions (lower is better; in the units of ``y``)."""
    from scipy.stats import norm

    a, m = _pair(y, mean, "mean")
    _, v = _pair(y, variance, "variance")
    s = np.sqrt(np.maximum(v, 1e-300))
    z = (a - m) / s
    return float(
        np.mean(s * (z * (2 * norm.cdf(z) - 1) + 2 * norm.pdf(z) - 1 / math.sqrt(math.pi)))
    )


def crps(y: Any, prediction: Any, variance: Any = None) -> float:
    """Mean CRPS of a prediction under its distribution (lower is better; units of ``y``);
    ``crps(y, mean, variance)`` is :func:`crps_gaussian`.

    >>> p = Prediction.lognormal(torch.zeros(1), torch.ones(1))
    >>> round(crps([1.0], p), 6)
    0.267405
    """
    if variance is not None:
        return crps_gaussian(y, prediction, variance)
    pred = _as_prediction(prediction)
    return float(D.crps(pred.predictive, _observed(y, pred)).mean())


def coverage(y: Any, lower: Any, upper: Any) -> float:
    """Fraction of observations inside ``[lower, upper]``."""
    a, lo = _pair(y, lower, "lower")
    _, hi = _pair(y, upper, "upper")
    return float(np.mean((a >= lo) & (a <= hi)))


def interval_width(lower: Any, upper: Any) -> float:
    """Mean width of the intervals."""
    lo, hi = _pair(lower, upper, "upper")
    return float(np.mean(hi - lo))


def evaluate(y: Any, prediction: Any) -> dict[str, float]:
    """Every metric of :data:`METRIC_NAMES` for a :class:`~mfgp.prediction.Prediction`: NLPD
    and CRPS under its distribution, coverage and width from its ``lower``/``upper`` bounds.

    >>> import torch
    >>> p = Prediction.gaussian(torch.zeros(4), torch.ones(4))
    >>> evaluate(torch.zeros(4), p)["coverage95"]
    1.0
    """
    pred = _as_prediction(prediction)
    mean = pred.mean
    return {
        "rmse": rmse(y, mean),
        "mae": mae(y, mean),
        "nrmse": nrmse(y, mean),
        "r2": r2(y, mean),
        "nlpd": nlpd(y, pred),
        "crps": crps(y, pred),
        "coverage95": coverage(y, pred.lower, pred.upper),
        "width95": interval_width(pred.lower, pred.upper),
    }


def per_volume(volumes: Any, y: Any, prediction: Any) -> pd.DataFrame:
    """Metrics per volume (one row per distinct volume, then a row ``volume_L = "all"``), each
    from the prediction's distribution at that volume's points (:meth:`Prediction.select`).

    Columns: ``volume_L``, ``n``, then :data:`METRIC_NAMES`.
    """
    vols = _arr(volumes, "volumes")
    a = _arr(y, "y")
    if vols.shape != a.shape:
        raise InputDataError(f"volumes has {vols.size} values but y has {a.size}")
    pred = _as_prediction(prediction)
    if pred.mean.numel() != a.size:
        raise InputDataError(f"y has {a.size} values but mean has {pred.mean.numel()}")
    rows = []
    for v in np.unique(vols):
        idx = np.flatnonzero(vols == v)
        sub = pred.select(idx)
        rows.append({"volume_L": float(v), "n": int(idx.size), **evaluate(a[idx], sub)})
    if len(rows) > 1:
        rows.append({"volume_L": "all", "n": int(a.size), **evaluate(a, pred)})
    return pd.DataFrame(rows)
