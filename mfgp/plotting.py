"""Matplotlib figures. Every function draws on a given ``ax`` and returns it.

The functions take plain arrays, tensors or the tidy frames that :mod:`mfgp.workflow` writes
(``predictions.csv``: columns ``model, volume_L, time_h, observed, mean, sd, lower95, upper95``;
the per-volume metrics table), so they work on saved results as well as live ones.

>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import matplotlib.pyplot as plt
>>> fig, ax = plt.subplots()
>>> ax = parity(ax, [1.0, 2.0], [1.1, 1.9])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from scipy.stats import norm

__all__ = [
    "acquisition_proposals",
    "calibration",
    "error_vs_volume",
    "fidelity_correlation",
    "learning_curve",
    "parity",
    "residuals",
    "time_courses",
]


def _np(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=float).reshape(-1)


def parity(
    ax: Axes,
    observed: Any,
    mean: Any,
    lower: Any | None = None,
    upper: Any | None = None,
    *,
    label: str | None = None,
    units: str = "",
) -> Axes:
    """Predicted against observed, with 95 % error bars and the 1:1 line."""
    y, m = _np(observed), _np(mean)
    if lower is not None and upper is not None:
        lo, hi = _np(lower), _np(upper)
        ax.errorbar(
            y,
            m,
            yerr=np.vstack([m - lo, hi - m]),
            fmt="o",
            ms=3,
            alpha=0.7,
            elinewidth=0.8,
            label=label,
        )
    else:
        ax.plot(y, m, "o", ms=3, alpha=0.7, label=label)
    lims = [min(y.min(), m.min()), max(y.max(), m.max())]
    ax.plot(lims, lims, "k--", lw=0.8)
    ax.set_xlabel(f"observed {units}".strip())
    ax.set_ylabel(f"predicted {units}".strip())
    ax.set_title("parity (95 % intervals)")
    if label:
        ax.legend(fontsize=8)
    return ax


def time_courses(
    ax: Axes,
    predictions: pd.DataFrame,
    *,
    model: str | None = None,
    train: pd.DataFrame | None = None,
    target: str | None = None,
    units: str = "",
) -> Axes:
    """Predicted time courses with 95 % bands at each held-out volume, the held-out data as
    points and (optionally) the training data as faint points.

    Args:
        predictions: rows of ``predictions.csv`` (one model, or pass ``model``).
        train: training rows with ``volume_L``, ``time_h`` and ``target`` columns.
    """
    frame = predictions if model is None else predictions[predictions["model"] == model]
    for v, grp in frame.groupby("volume_L"):
        g = grp.groupby("time_h", as_index=False).agg(
            mean=("mean", "mean"), lo=("lower95", "mean"), hi=("upper95", "mean")
        )
        (line,) = ax.plot(g["time_h"], g["mean"], label=f"{v:g} L predicted")
        ax.fill_between(g["time_h"], g["lo"], g["hi"], color=line.get_color(), alpha=0.2)
        ax.plot(
            grp["time_h"],
            grp["observed"],
            "o",
            ms=3,
            color=line.get_color(),
            label=f"{v:g} L held out",
        )
    if train is not None and target is not None:
        ax.plot(train["time_h"], train[target], ".", ms=2, alpha=0.35, color="grey")
        ax.plot([], [], ".", color="grey", alpha=0.5, label="training data")
    ax.set_xlabel("time (h)")
    ax.set_ylabel(f"{target or 'target'} {units}".strip())
    ax.set_title(f"{model or ''} predictions at held-out volumes".strip())
    ax.legend(fontsize=7)
    return ax


def error_vs_volume(ax: Axes, table: pd.DataFrame, *, metric: str = "nrmse") -> Axes:
    """``metric`` against volume (log axis) for every model of a per-volume metrics table
    (columns ``model``, ``volume_L``, ``metric``; rows with ``volume_L == "all"`` are skipped)."""
    rows = table[table["volume_L"].apply(lambda v: not isinstance(v, str))]
    for name, grp in rows.groupby("model", sort=False):
        g = grp.sort_values("volume_L")
        ax.plot(g["volume_L"].astype(float), g[metric], "o-", label=str(name))
    ax.set_xscale("log")
    ax.set_xlabel("volume (L)")
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} against volume")
    ax.legend(fontsize=8)
    return ax


def calibration(
    ax: Axes,
    observed: Any,
    mean: Any,
    sd: Any,
    *,
    label: str | None = None,
    levels: Sequence[float] = tuple(np.linspace(0.05, 0.95, 19)),
) -> Axes:
    """Observed coverage of central Gaussian intervals against their nominal level."""
    y, m, s = _np(observed), _np(mean), np.maximum(_np(sd), 1e-300)
    z = np.abs(y - m) / s
    lv = np.asarray(levels)
    observed_cov = [(z <= norm.ppf(0.5 + p / 2)).mean() for p in lv]
    ax.plot(lv, observed_cov, "o-", ms=3, label=label)
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("nominal coverage")
    ax.set_ylabel("observed coverage")
    ax.set_title("calibration")
    if label:
        ax.legend(fontsize=8)
    return ax


def residuals(
    ax: Axes,
    x: Any,
    observed: Any,
    mean: Any,
    *,
    xlabel: str = "volume (L)",
    logx: bool = True,
    label: str | None = None,
) -> Axes:
    """Residuals (observed - predicted) against ``x`` (volume or time)."""
    ax.plot(_np(x), _np(observed) - _np(mean), "o", ms=3, alpha=0.7, label=label)
    ax.axhline(0.0, color="k", lw=0.8)
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("residual")
    ax.set_title(f"residuals against {xlabel.split(' ')[0]}")
    if label:
        ax.legend(fontsize=8)
    return ax


def learning_curve(
    ax: Axes,
    n: Any,
    error: Any,
    *,
    spread: tuple[Any, Any] | None = None,
    label: str | None = None,
    xlabel: str = "top-level runs",
    ylabel: str = "NRMSE",
) -> Axes:
    """Error against the number of top-level runs (or cost), with an optional band."""
    x, e = _np(n), _np(error)
    (line,) = ax.plot(x, e, "o-", ms=3, label=label)
    if spread is not None:
        ax.fill_between(x, _np(spread[0]), _np(spread[1]), color=line.get_color(), alpha=0.2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title("learning curve")
    if label:
        ax.legend(fontsize=8)
    return ax


def fidelity_correlation(
    ax: Axes, low: Any, high: Any, *, low_name: str = "level k-1", high_name: str = "level k"
) -> Axes:
    """Level k against level k-1 at shared inputs, with the least-squares line (its slope is
    the constant-rho estimate)."""
    lo, hi = _np(low), _np(high)
    ax.plot(lo, hi, "o", ms=3, alpha=0.7)
    if lo.size >= 2 and np.ptp(lo) > 0:
        slope, icpt = np.polyfit(lo, hi, 1)
        xs = np.linspace(lo.min(), lo.max(), 50)
        ax.plot(xs, slope * xs + icpt, "r-", lw=1, label=f"slope {slope:.3g}")
        ax.legend(fontsize=8)
    ax.set_xlabel(low_name)
    ax.set_ylabel(high_name)
    ax.set_title(f"{high_name} against {low_name}")
    return ax


def acquisition_proposals(
    ax: Axes,
    candidates: pd.DataFrame,
    x: str,
    y: str,
    *,
    proposals: pd.DataFrame | None = None,
    value: str | None = None,
) -> Axes:
    """Candidate points in two operating variables (coloured by ``value``, e.g. acquisition
    value) and the proposed runs as numbered stars."""
    if value is not None and value in candidates:
        sc = ax.scatter(candidates[x], candidates[y], c=candidates[value], s=12, cmap="viridis")
        ax.figure.colorbar(sc, ax=ax, label=value)
    else:
        ax.scatter(candidates[x], candidates[y], s=12, color="grey", alpha=0.5)
    if proposals is not None:
        ax.scatter(
            proposals[x],
            proposals[y],
            marker="*",
            s=160,
            color="red",
            edgecolor="k",
            label="proposed",
        )
        for i, (px, py) in enumerate(zip(proposals[x], proposals[y], strict=True), start=1):
            ax.annotate(str(i), (px, py), textcoords="offset points", xytext=(5, 5))
        ax.legend(fontsize=8)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title("proposed experiments")
    return ax
