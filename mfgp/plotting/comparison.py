"""Comparing models: parity, calibration, residuals and error against volume, for one model on
one axes or for many (11+) models at once, as small multiples (one panel per model, shared
axes, :func:`~mfgp.plotting.style.model_grid`) or with the best few in colour and the rest in
grey (``highlight``).

The many-model functions take the ``predictions.csv`` frame of a run (columns ``model,
volume_L, observed, mean, sd, lower95, upper95``, optionally ``time_h``, ``run_id``) and a
ranking (model names, best first); :func:`comparison_figures` draws all four comparisons.

>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import matplotlib.pyplot as plt
>>> fig, ax = plt.subplots()
>>> ax = parity(ax, [1.0, 2.0], [1.1, 1.9], label="gp")
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from scipy.stats import norm

from mfgp.plotting.style import (
    GREY,
    highlighted,
    label_grid,
    legend_outside,
    model_colors,
    model_grid,
    ranked,
    volume_axis,
)

__all__ = [
    "calibration",
    "calibration_comparison",
    "calibration_grid",
    "comparison_figures",
    "coverage_curve",
    "error_vs_volume",
    "parity",
    "parity_grid",
    "residuals",
    "residuals_grid",
    "volume_errors",
]

#: nominal levels of the central intervals in the calibration figures.
LEVELS = tuple(float(p) for p in np.linspace(0.05, 0.95, 19))
_METRIC_LABELS = {
    "nrmse": "NRMSE (RMSE / sd of observed)",
    "rmse": "RMSE",
    "mae": "MAE",
    "crps": "CRPS",
    "nlpd": "NLPD",
    "coverage95": "95 % interval coverage",
    "width95": "95 % interval width",
    "r2": "R²",
}


_BEST_FIRST = ("", " (models best first)")


def _np(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=float).reshape(-1)


def _color(color: Any, label: str | None) -> Any:
    """The given colour, else the model's colour when ``label`` names a model."""
    if color is not None or label is None:
        return color
    return model_colors([label])[label]


def _quantity(what: str, target: str | None, units: str) -> str:
    name = f"{what} {target}" if target else what
    return f"{name} ({units})" if units else name


def parity(
    ax: Axes,
    observed: Any,
    mean: Any,
    lower: Any | None = None,
    upper: Any | None = None,
    *,
    label: str | None = None,
    units: str = "",
    target: str | None = None,
    color: Any = None,
    **kwargs: Any,
) -> Axes:
    """Predicted against observed, with 95 % error bars and the 1:1 line.

    Args:
        ax: the axes.
        observed, mean: observed values and predictive means.
        lower, upper: 95 % bounds (error bars) or ``None``.
        label: legend label (a model name: that model's colour); the legend goes outside.
        units: units of the target, for the axis labels.
        target: the target's name, for the axis labels.
        color: marker colour (default: the model's colour, else matplotlib's cycle).
        **kwargs: more marker properties for matplotlib.
    """
    y, m = _np(observed), _np(mean)
    style = {"ms": 3, "alpha": 0.75, "color": _color(color, label), **kwargs}
    if lower is not None and upper is not None:
        lo, hi = _np(lower), _np(upper)
        yerr = np.vstack([np.clip(m - lo, 0, None), np.clip(hi - m, 0, None)])
        ax.errorbar(y, m, yerr=yerr, fmt="o", elinewidth=0.7, label=label, **style)
    else:
        ax.plot(y, m, "o", label=label, **style)
    finite = np.concatenate([y, m])
    finite = finite[np.isfinite(finite)]
    if finite.size:
        lims = [float(finite.min()), float(finite.max())]
        ax.plot(lims, lims, "k--", lw=0.8, zorder=0)
    ax.set_xlabel(_quantity("observed", target, units))
    ax.set_ylabel(_quantity("predicted", target, units))
    ax.set_title("parity (95 % intervals)")
    if label:
        legend_outside(ax)
    return ax


def coverage_curve(
    observed: Any, mean: Any, sd: Any, levels: Sequence[float] = LEVELS
) -> np.ndarray:
    """Fraction of observations inside the central Gaussian interval ``mean +- z sd`` of each
    nominal level (the Gaussian of the predictive mean and sd).

    Example:
        >>> coverage_curve([0.0, 1.0, 3.0], [0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [0.5, 0.9])
        array([0.33333333, 0.66666667])
    """
    y, m, s = _np(observed), _np(mean), np.maximum(_np(sd), 1e-300)
    z = np.abs(y - m) / s
    return np.array([(z <= norm.ppf(0.5 + p / 2)).mean() for p in levels])


def _calibration_frame(ax: Axes) -> None:
    ax.plot([0, 1], [0, 1], "k--", lw=0.8, zorder=0)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("nominal coverage of central interval")
    ax.set_ylabel("observed coverage")


def calibration(
    ax: Axes,
    observed: Any,
    mean: Any,
    sd: Any,
    *,
    label: str | None = None,
    levels: Sequence[float] = LEVELS,
    color: Any = None,
    **kwargs: Any,
) -> Axes:
    """Observed coverage of central Gaussian intervals against their nominal level (the
    diagonal is perfect calibration; below it the intervals are too narrow).

    Args:
        ax: the axes.
        observed, mean, sd: observations, predictive means and standard deviations.
        label: legend label (a model name: that model's colour); the legend goes outside.
        levels: the nominal levels.
        color: line colour (default: the model's colour, else matplotlib's cycle).
        **kwargs: more line properties for matplotlib.
    """
    cov = coverage_curve(observed, mean, sd, levels)
    style = {"ms": 3, "color": _color(color, label), **kwargs}
    ax.plot(np.asarray(levels), cov, "o-", label=label, **style)
    _calibration_frame(ax)
    ax.set_title("calibration")
    if label:
        legend_outside(ax)
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
    units: str = "",
    color: Any = None,
    **kwargs: Any,
) -> Axes:
    """Residuals (observed - predicted) against ``x`` (volume or time). A log ``x`` whose
    label names a volume gets volume ticks (``1 L``, ``10 m³``).

    Args:
        ax: the axes.
        x: volumes (L) or times (h).
        observed, mean: observations and predictive means.
        xlabel: the x label (``"time (h)"`` with ``logx=False`` for time).
        logx: log x axis.
        label: legend label (a model name: that model's colour); the legend goes outside.
        units: units of the target, for the y label.
        color: marker colour (default: the model's colour, else matplotlib's cycle).
        **kwargs: more marker properties for matplotlib.
    """
    style = {"ms": 3, "alpha": 0.7, "color": _color(color, label), **kwargs}
    ax.plot(_np(x), _np(observed) - _np(mean), "o", label=label, **style)
    ax.axhline(0.0, color="k", lw=0.8, zorder=0)
    ax.set_xlabel(xlabel)
    if logx and "volume" in xlabel:  # ticks in L / m³; the default label follows them
        volume_axis(ax, label=xlabel == "volume (L)")
    elif logx:
        ax.set_xscale("log")
    ax.set_ylabel(_quantity("residual", None, units) + " = observed - predicted")
    ax.set_title(f"residuals against {xlabel.split(' ')[0]}")
    if label:
        legend_outside(ax)
    return ax


def volume_errors(predictions: pd.DataFrame) -> pd.DataFrame:
    """Per model and volume: ``n``, ``rmse``, ``mae``, ``nrmse`` (RMSE over the standard
    deviation of the observations at that volume; NaN when they are constant) and
    ``coverage95`` from a ``predictions.csv`` frame, for :func:`error_vs_volume`.

    Example:
        >>> f = pd.DataFrame({"model": "gp", "volume_L": [1.0, 1.0], "observed": [1.0, 3.0],
        ...                   "mean": [2.0, 2.0], "lower95": 0.0, "upper95": 4.0})
        >>> volume_errors(f)[["model", "volume_L", "rmse", "nrmse"]].to_dict("records")
        [{'model': 'gp', 'volume_L': 1.0, 'rmse': 1.0, 'nrmse': 1.0}]
    """
    rows = []
    for (model, v), g in predictions.groupby(["model", "volume_L"], sort=False):
        err = g["observed"].to_numpy(float) - g["mean"].to_numpy(float)
        sd = float(np.std(g["observed"].to_numpy(float)))
        rmse = float(np.sqrt(np.mean(err**2)))
        row = {"model": model, "volume_L": float(v), "n": len(g), "rmse": rmse}
        row["mae"] = float(np.mean(np.abs(err)))
        row["nrmse"] = rmse / sd if sd > 0 else float("nan")
        if {"lower95", "upper95"} <= set(g.columns):
            obs = g["observed"].to_numpy(float)
            inside = (obs >= g["lower95"].to_numpy(float)) & (obs <= g["upper95"].to_numpy(float))
            row["coverage95"] = float(inside.mean())
        rows.append(row)
    return pd.DataFrame(rows)


def _table_order(rows: pd.DataFrame, table: pd.DataFrame, metric: str) -> list[str]:
    """Models best first: by the ``volume_L == "all"`` rows when the table has them, else by
    the mean over volumes (lower is better; higher for ``r2``)."""
    overall = table[table["volume_L"].apply(lambda v: isinstance(v, str))]
    score = overall.set_index("model")[metric] if len(overall) else None
    if score is None or score.isna().all():
        score = rows.groupby("model", sort=False)[metric].mean()
    score = pd.to_numeric(score, errors="coerce")
    ascending = metric != "r2"
    return [str(m) for m in score.sort_values(ascending=ascending, na_position="last").index]


def error_vs_volume(
    ax: Axes,
    table: pd.DataFrame,
    *,
    metric: str = "nrmse",
    highlight: Sequence[str] | None = None,
    ranking: Sequence[str] | None = None,
    colors: dict[str, Any] | None = None,
    top: int = 3,
    units: str = "",
) -> Axes:
    """``metric`` against volume (log axis, volume ticks) for every model of a per-volume
    metrics table (columns ``model``, ``volume_L``, ``metric``; rows with
    ``volume_L == "all"`` only rank the models). Readable with many models: the
    ``highlight``-ed models are drawn in their colours and named in the legend, the others in
    thin grey lines under them (one legend entry); by default all models are coloured when
    there are at most 6, else the best ``top`` (by ``ranking``, else by the table).

    Every line is labelled with its model name, so a caller can still recolour lines by label.

    Args:
        ax: the axes.
        table: the per-volume metrics (e.g. :func:`volume_errors` or the run's table).
        metric: the column to draw.
        highlight: the models to draw in colour.
        ranking: the models best first (default: by ``metric``, lower is better).
        colors: ``{model: colour}`` (default :func:`~mfgp.plotting.style.model_colors`).
        top: how many models to colour by default.
        units: units of the metric (RMSE, MAE), for the y label.
    """
    rows = table[table["volume_L"].apply(lambda v: not isinstance(v, str))].copy()
    rows["volume_L"] = rows["volume_L"].astype(float)
    order = ranked(_table_order(rows, table, metric) if ranking is None else ranking, None)
    order = ranked(rows["model"].astype(str), order)
    hi = highlighted(order, highlight, top=top)
    colors = {**model_colors(order), **(colors or {})}
    handles = []
    for name in [m for m in order if m not in hi] + hi:
        g = rows[rows["model"].astype(str) == name].sort_values("volume_L")
        if name in hi:
            (line,) = ax.plot(
                g["volume_L"], g[metric], "o-", ms=4, lw=1.8, color=colors[name], label=name
            )
            line.set_zorder(3)
        else:
            ax.plot(g["volume_L"], g[metric], "o-", ms=2, lw=0.9, color=GREY, alpha=0.8, label=name)
    for name in hi:
        handles.append(Line2D([], [], marker="o", ms=4, lw=1.8, color=colors[name], label=name))
    others = len(order) - len(hi)
    if others:
        label = f"{others} other model{'s' if others > 1 else ''}"
        handles.append(Line2D([], [], marker="o", ms=2, lw=0.9, color=GREY, label=label))
    volume_axis(ax)
    ylabel = _METRIC_LABELS.get(metric, metric)
    ax.set_ylabel(f"{ylabel} ({units})" if units and metric in ("rmse", "mae") else ylabel)
    ax.set_title(f"{_METRIC_LABELS.get(metric, metric).split(' (')[0]} against volume")
    legend_outside(ax, handles)
    return ax


def _models(predictions: pd.DataFrame, ranking: Sequence[str] | None) -> list[str]:
    return ranked(predictions["model"].astype(str), ranking)


def parity_grid(
    predictions: pd.DataFrame,
    *,
    ranking: Sequence[str] | None = None,
    fig: Figure | None = None,
    target: str | None = None,
    units: str = "",
    colors: dict[str, Any] | None = None,
) -> Figure:
    """Parity small multiples: one panel per model in ranking order (shared axes, the same
    limits for every model, the 1:1 line), 95 % error bars, and each model's RMSE and 95 %
    coverage in its panel.

    Args:
        predictions: a ``predictions.csv`` frame.
        ranking: the models best first (default: the frame's order).
        fig: draw into this figure (default: a new one sized for the grid).
        target, units: the target's name and units, for the axis labels.
        colors: ``{model: colour}`` (default :func:`~mfgp.plotting.style.model_colors`).

    Returns:
        The figure.
    """
    models = _models(predictions, ranking)
    colors = {**model_colors(models), **(colors or {})}
    fig, axes = model_grid(models, fig=fig)
    values = predictions[["observed", "mean"]].to_numpy(float).ravel()
    values = values[np.isfinite(values)]
    lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)
    pad = 0.05 * (hi - lo or 1.0)
    lims = (lo - pad, hi + pad)
    for i, (ax, name) in enumerate(zip(axes, models, strict=True), start=1):
        g = predictions[predictions["model"].astype(str) == name]
        has_bounds = {"lower95", "upper95"} <= set(g.columns)
        parity(
            ax,
            g["observed"],
            g["mean"],
            g["lower95"] if has_bounds else None,
            g["upper95"] if has_bounds else None,
            color=colors[name],
        )
        ax.plot(lims, lims, "k--", lw=0.8, zorder=0)
        err = g["observed"].to_numpy(float) - g["mean"].to_numpy(float)
        text = f"RMSE {np.sqrt(np.mean(err**2)):.3g}"
        if has_bounds:
            obs = g["observed"].to_numpy(float)
            cov = np.mean((obs >= g["lower95"].to_numpy(float)) & (obs <= g["upper95"]))
            text += f"\n95 % cov. {cov:.0%}"
        ax.text(
            0.04,
            0.96,
            text,
            transform=ax.transAxes,
            va="top",
            ha="left",
            fontsize=7.5,
            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.8},
        )
        ax.set_title(f"{i}. {name}" if len(models) > 1 else name, fontsize=9)
    for ax in axes:
        ax.set_xlim(lims)
        ax.set_ylim(lims)
    label_grid(axes, _quantity("observed", target, units), _quantity("predicted", target, units))
    fig.suptitle(
        "predicted against observed, 95 % intervals" + _BEST_FIRST[len(models) > 1], fontsize=10
    )
    return fig


def residuals_grid(
    predictions: pd.DataFrame,
    *,
    ranking: Sequence[str] | None = None,
    fig: Figure | None = None,
    x: str = "volume_L",
    units: str = "",
    colors: dict[str, Any] | None = None,
) -> Figure:
    """Residual small multiples: observed - predicted against volume (log axis, volume ticks;
    or ``x="time_h"``), one panel per model in ranking order, shared axes.

    Args:
        predictions: a ``predictions.csv`` frame.
        ranking: the models best first (default: the frame's order).
        fig: draw into this figure (default: a new one sized for the grid).
        x: ``"volume_L"`` or ``"time_h"``.
        units: the target's units, for the y label.
        colors: ``{model: colour}`` (default :func:`~mfgp.plotting.style.model_colors`).

    Returns:
        The figure.
    """
    models = _models(predictions, ranking)
    colors = {**model_colors(models), **(colors or {})}
    fig, axes = model_grid(models, fig=fig)
    is_volume = x == "volume_L"
    xlabel = "working volume" if is_volume else "culture time (h)"
    for ax, name in zip(axes, models, strict=True):
        g = predictions[predictions["model"].astype(str) == name]
        title = ax.get_title()
        residuals(
            ax, g[x], g["observed"], g["mean"], xlabel=xlabel, logx=is_volume, color=colors[name]
        )
        ax.set_title(title, fontsize=9)
    if is_volume and len(predictions):
        v = predictions["volume_L"].to_numpy(float)
        volume_axis(axes[0], limits=(v.min() / 1.5, v.max() * 1.5), label=False)
    label_grid(axes, xlabel, _quantity("residual", None, units))
    fig.suptitle("residuals (observed - predicted)" + _BEST_FIRST[len(models) > 1], fontsize=10)
    return fig


def calibration_comparison(
    ax: Axes,
    predictions: pd.DataFrame,
    *,
    ranking: Sequence[str] | None = None,
    highlight: Sequence[str] | None = None,
    top: int = 3,
    colors: dict[str, Any] | None = None,
    levels: Sequence[float] = LEVELS,
) -> Axes:
    """Calibration of many models on one axes: coverage of central intervals against their
    nominal level, the ``highlight``-ed models (default: all up to 6 models, else the best
    ``top`` of ``ranking``) in colour and named in the legend, the others in grey.

    Args:
        ax: the axes.
        predictions: a ``predictions.csv`` frame (``observed``, ``mean``, ``sd``).
        ranking: the models best first (default: the frame's order).
        highlight: the models to draw in colour.
        top: how many models to colour by default.
        colors: ``{model: colour}`` (default :func:`~mfgp.plotting.style.model_colors`).
        levels: the nominal levels.
    """
    models = _models(predictions, ranking)
    hi = highlighted(models, highlight, top=top)
    colors = {**model_colors(models), **(colors or {})}
    for name in [m for m in models if m not in hi] + hi:
        g = predictions[predictions["model"].astype(str) == name]
        cov = coverage_curve(g["observed"], g["mean"], g["sd"], levels)
        if name in hi:
            ax.plot(levels, cov, "o-", ms=3.5, lw=1.8, color=colors[name], label=name, zorder=3)
        else:
            ax.plot(levels, cov, "-", lw=0.9, color=GREY, alpha=0.8, label=f"_{name}")
    _calibration_frame(ax)
    handles = [Line2D([], [], marker="o", ms=3.5, lw=1.8, color=colors[n], label=n) for n in hi]
    others = len(models) - len(hi)
    if others:
        label = f"{others} other model{'s' if others > 1 else ''}"
        handles.append(Line2D([], [], lw=0.9, color=GREY, label=label))
    ax.set_title("calibration: coverage of central intervals")
    legend_outside(ax, handles)
    return ax


def calibration_grid(
    predictions: pd.DataFrame,
    *,
    ranking: Sequence[str] | None = None,
    fig: Figure | None = None,
    colors: dict[str, Any] | None = None,
    levels: Sequence[float] = LEVELS,
) -> Figure:
    """Calibration small multiples: one panel per model in ranking order, shared axes, the
    diagonal in every panel.

    Returns:
        The figure.
    """
    models = _models(predictions, ranking)
    colors = {**model_colors(models), **(colors or {})}
    fig, axes = model_grid(models, fig=fig, panel_size=(2.6, 2.4))
    for ax, name in zip(axes, models, strict=True):
        g = predictions[predictions["model"].astype(str) == name]
        title = ax.get_title()
        calibration(ax, g["observed"], g["mean"], g["sd"], levels=levels, color=colors[name])
        ax.set_title(title, fontsize=9)
    label_grid(axes, "nominal coverage", "observed coverage")
    fig.suptitle(
        "calibration: coverage of central intervals" + _BEST_FIRST[len(models) > 1], fontsize=10
    )
    return fig


def comparison_figures(
    predictions: pd.DataFrame,
    ranking: Sequence[str] | None = None,
    *,
    table: pd.DataFrame | None = None,
    metric: str = "nrmse",
    target: str | None = None,
    units: str = "",
    top: int = 3,
) -> dict[str, Figure]:
    """The four model comparisons of a run with any number of models, in ranking order:

    - ``"parity"``: :func:`parity_grid` (one panel per model);
    - ``"calibration"``: :func:`calibration_comparison` (the best ``top`` in colour, the rest
      grey);
    - ``"residuals"``: :func:`residuals_grid` against volume (one panel per model);
    - ``"error_vs_volume"``: :func:`error_vs_volume` (the best ``top`` in colour, named in the
      legend, the rest grey) of ``table`` (default :func:`volume_errors` of ``predictions``).

    Args:
        predictions: a ``predictions.csv`` frame.
        ranking: the models best first (default: the frame's order).
        table: per-volume metrics with ``model``, ``volume_L`` and ``metric``.
        metric: the error drawn against volume.
        target, units: the target's name and units, for the axis labels.
        top: how many models to colour in the one-axes figures.

    Returns:
        ``{name: figure}``; the caller saves and closes them.
    """
    import matplotlib.pyplot as plt

    models = _models(predictions, ranking)
    colors = model_colors(models)
    figs = {"parity": parity_grid(predictions, ranking=models, target=target, units=units)}
    fig, ax = plt.subplots(figsize=(5.2, 4.0), layout="constrained")
    calibration_comparison(ax, predictions, ranking=models, top=top, colors=colors)
    figs["calibration"] = fig
    figs["residuals"] = residuals_grid(predictions, ranking=models, units=units)
    fig, ax = plt.subplots(figsize=(5.8, 4.0), layout="constrained")
    table = volume_errors(predictions) if table is None else table
    error_vs_volume(ax, table, metric=metric, ranking=models, top=top, colors=colors, units=units)
    figs["error_vs_volume"] = fig
    return figs
