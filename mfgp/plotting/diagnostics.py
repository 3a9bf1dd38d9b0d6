"""Diagnostics beside the model comparison: learning curves (error against the number of
top-level runs), the correlation between successive fidelity levels, and the proposed next
experiments in two operating variables.

>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import matplotlib.pyplot as plt
>>> fig, ax = plt.subplots()
>>> ax = fidelity_correlation(ax, [1.0, 2.0, 3.0], [2.0, 4.1, 5.9])
>>> ax.get_legend().get_texts()[0].get_text()
'slope 1.95'
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

__all__ = ["acquisition_proposals", "fidelity_correlation", "learning_curve"]


def _np(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=float).reshape(-1)


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
